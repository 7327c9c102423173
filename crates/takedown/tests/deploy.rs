//! The deployment wrappers in dist/, checked with the tools that run them.
//!
//! - dist/ansible: `ansible-playbook --syntax-check`, then the playbook
//!   run for real with `-c local` into a temporary prefix (systemd left
//!   out): the files it installs, their modes, the unit's ExecStart (read
//!   back as systemd splits it, checked by `systemd-analyze verify`, and
//!   run: the agent accepts it and keeps trying to reach its server), the
//!   unit's directives against dist/takedown-agent.service, and a second
//!   run that changes nothing.
//! - dist/velociraptor/Takedown.Scan.yaml: the command line its VQL builds
//!   (parameters and `LET`s evaluated here, as VQL would) is run with the
//!   real binary over an EICAR file and a YARA rule, and every record
//!   field its query selects must be in the output (and documented in
//!   docs/finding.schema.json). No `velociraptor` binary can be installed
//!   on this machine (no Debian, PyPI or npm package), so the VQL itself
//!   is not run; docs/deploy.md says so.
//!
//! Needs ansible-core in the reference Python (`.venv`, which `.ci/run`
//! fills, or `TAKEDOWN_PYTHON`), and `systemd-analyze`. Without them the
//! tests skip with a message, except under CI, where that is a failure.

mod util;

use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};
use util::*;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn playbook() -> PathBuf {
    repo().join("dist/ansible/takedown-agent.yml")
}

/// A required outside tool is missing: a failure under CI, else a skip.
fn missing(what: &str) {
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} not found: .ci/run installs it"
    );
    eprintln!("skipped: {what} not found (run .ci/run)");
}

/// `ansible-playbook` of the reference venv, with a private home, temp
/// and an empty configuration so that nothing of the user's is read.
struct Ansible {
    python: PathBuf,
    exe: PathBuf,
    state: tempfile::TempDir,
}

impl Ansible {
    fn find() -> Option<Ansible> {
        let python = reference_python()?;
        let exe = venv_tool(&python, "ansible-playbook");
        if !exe.exists() {
            missing(&format!("{} (pip package ansible-core)", exe.display()));
            return None;
        }
        let state = tempfile::Builder::new()
            .prefix("takedown-ansible")
            .tempdir()
            .unwrap();
        std::fs::write(state.path().join("ansible.cfg"), "").unwrap();
        Some(Ansible { python, exe, state })
    }

    fn cmd(&self) -> Command {
        let s = self.state.path();
        let mut c = Command::new(&self.exe);
        c.env("ANSIBLE_CONFIG", s.join("ansible.cfg"))
            .env("ANSIBLE_HOME", s.join("home"))
            .env("ANSIBLE_LOCAL_TEMP", s.join("local"))
            .env("ANSIBLE_REMOTE_TEMP", s.join("remote"))
            .env("ANSIBLE_NOCOLOR", "1")
            .env("ANSIBLE_RETRY_FILES_ENABLED", "0")
            .env("ANSIBLE_LOCALHOST_WARNING", "0")
            .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "0")
            // ansible-core insists on a UTF-8 locale.
            .env("LC_ALL", "C.UTF-8")
            // The cryptography package warns about DSA on every start.
            .env("PYTHONWARNINGS", "ignore")
            .stdin(Stdio::null());
        c
    }

    /// Runs the playbook against this machine with these extra variables.
    fn run(&self, vars: &Value) -> Output {
        let mut vars = vars.clone();
        vars["takedown_agent_hosts"] = json!("all");
        self.run_on(&["-i", "localhost,"], &vars)
    }

    /// Runs the playbook with these inventory arguments, on this machine
    /// whatever the hosts are called (`-c local`).
    fn run_on(&self, inventory: &[&str], vars: &Value) -> Output {
        let mut vars = vars.clone();
        // The venv's Python runs the modules: the one interpreter
        // discovery finds may be a shim of another installation.
        vars["ansible_python_interpreter"] = json!(self.python);
        vars["takedown_agent_become"] = json!(false);
        let file = self.state.path().join("vars.json");
        std::fs::write(&file, serde_json::to_vec(&vars).unwrap()).unwrap();
        let mut c = self.cmd();
        c.args(["-c", "local"])
            .args(inventory)
            .arg("-e")
            .arg(format!("@{}", file.display()))
            .arg(playbook());
        run_with_timeout(c, 300)
    }
}

/// `changed` and `failed` of the host in the PLAY RECAP.
fn recap(o: &Output) -> (u64, u64) {
    let out = stdout(o);
    let line = out
        .lines()
        .rev()
        .find(|l| l.contains(" : ok=") && l.contains("changed="))
        .unwrap_or_else(|| panic!("no PLAY RECAP:\n{out}\n{}", stderr(o)));
    let field = |name: &str| -> u64 {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(name))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in {line:?}"))
    };
    (field("changed="), field("failed="))
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .permissions()
        .mode()
        & 0o7777
}

/// The current user and group names: the test owns what it installs.
fn owner() -> (String, String) {
    use nix::unistd::{Gid, Group, Uid, User};
    let user = User::from_uid(Uid::current()).unwrap().unwrap().name;
    let group = Group::from_gid(Gid::current()).unwrap().unwrap().name;
    (user, group)
}

/// An NKey seed in the encoding of the NATS tools (base32 of two prefix
/// bytes, 32 key bytes and a CRC-16/XMODEM), so that the agent reads the
/// credentials file as a real one. The JWT is not checked on this side.
fn creds_file(seed_byte: u8) -> String {
    fn crc16(data: &[u8]) -> u16 {
        let mut crc: u16 = 0;
        for &b in data {
            crc ^= u16::from(b) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
        }
        crc
    }
    const SEED: u8 = 18 << 3;
    const USER: u8 = 20 << 3;
    let mut raw = vec![SEED | (USER >> 5), (USER & 31) << 3];
    raw.extend(std::iter::repeat_n(seed_byte, 32));
    let crc = crc16(&raw);
    raw.extend(crc.to_le_bytes());
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut seed = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in raw {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            seed.push(char::from(ALPHABET[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        seed.push(char::from(ALPHABET[((acc << (5 - bits)) & 31) as usize]));
    }
    format!(
        "-----BEGIN NATS USER JWT-----\n\
         eyJ0eXAiOiJKV1QiLCJhbGciOiJlZDI1NTE5LW5rZXkifQ.e30.c2ln\n\
         ------END NATS USER JWT------\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
    )
}

/// A loopback port nothing listens on: the agent retries it for ever and
/// never talks to another machine.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// The lines of a unit file with continuations joined, as systemd reads
/// them.
fn logical_lines(unit: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for line in unit.lines() {
        if cur.is_empty() && (line.starts_with('#') || line.starts_with(';')) {
            continue;
        }
        match line.strip_suffix('\\') {
            Some(part) => {
                cur.push_str(part);
                cur.push(' ');
            }
            None => {
                cur.push_str(line);
                out.push(std::mem::take(&mut cur));
            }
        }
    }
    out
}

/// A command line split into words as systemd does: double quotes with
/// `\\` and `\"` escapes, `%%` and `$$` standing for `%` and `$`.
fn systemd_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            return words;
        }
        let mut w = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next() {
                    Some('"') => break,
                    Some('\\') => w.push(chars.next().expect("escape at the end")),
                    Some(c) => w.push(c),
                    None => panic!("unterminated quote in {line:?}"),
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                w.push(c);
                chars.next();
            }
        }
        words.push(w.replace("%%", "%").replace("$$", "$"));
    }
}

/// The argv of the unit's ExecStart.
fn exec_start(unit: &str) -> Vec<String> {
    let line = logical_lines(unit)
        .into_iter()
        .find_map(|l| l.strip_prefix("ExecStart=").map(str::to_string))
        .expect("the unit has an ExecStart");
    systemd_words(&line)
}

/// Every value given to `flag` in an argv.
fn values<'a>(argv: &'a [String], flag: &str) -> Vec<&'a str> {
    argv.windows(2)
        .filter(|w| w[0] == flag)
        .map(|w| w[1].as_str())
        .collect()
}

/// Everything a run of the playbook works on.
struct Site {
    dir: tempfile::TempDir,
}

impl Site {
    fn new() -> Site {
        let dir = tempfile::Builder::new()
            .prefix("takedown-deploy")
            .tempdir()
            .unwrap();
        let src = dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        // The debug binary is hundreds of MB: copied and hashed on every
        // run it would be most of the test. A script that runs it stands
        // in for it; the role copies and validates it the same way.
        let bin = src.join("takedown");
        std::fs::write(
            &bin,
            format!(
                "#!/bin/sh\nexec '{}' \"$@\"\n",
                env!("CARGO_BIN_EXE_takedown")
            ),
        )
        .unwrap();
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(src.join("web1.creds"), creds_file(7)).unwrap();
        std::fs::write(
            src.join("nats-ca.pem"),
            "-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_takedown"))
            .args(["sigs", "keygen", "-o"])
            .arg(src.join("publisher"))
            .output()
            .unwrap();
        assert!(o.status.success(), "keygen: {}", stderr(&o));
        Site { dir }
    }

    fn src(&self, name: &str) -> PathBuf {
        self.dir.path().join("src").join(name)
    }

    fn root(&self) -> PathBuf {
        self.dir.path().join("root")
    }

    /// A path below the install prefix.
    fn at(&self, rel: &str) -> PathBuf {
        self.root().join(rel)
    }

    fn base_vars(&self) -> Value {
        let (user, group) = owner();
        json!({
            "takedown_agent_prefix": self.root(),
            "takedown_agent_systemd": false,
            "takedown_agent_owner": user,
            "takedown_agent_group": group,
            "takedown_agent_binary_src": self.src("takedown"),
            "takedown_agent_trusted_keys_src": [self.src("publisher.pub")],
        })
    }

    fn unit(&self) -> String {
        std::fs::read_to_string(self.at("etc/systemd/system/takedown-agent.service")).unwrap()
    }
}

fn merge(mut a: Value, b: Value) -> Value {
    for (k, v) in b.as_object().unwrap() {
        a[k] = v.clone();
    }
    a
}

/// `systemd-analyze verify` on the installed unit: its syntax, its
/// directives, and that ExecStart names an executable.
fn systemd_verify(unit: &Path) {
    let Some(exe) = which("systemd-analyze") else {
        missing("systemd-analyze (Debian package systemd)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("takedown-agent.service");
    std::fs::copy(unit, &copy).unwrap();
    let mut c = Command::new(exe);
    c.args(["verify", "--man=no"])
        .arg(&copy)
        .current_dir(dir.path());
    let o = run_with_timeout(c, 60);
    assert!(
        o.status.success(),
        "systemd-analyze verify:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
}

fn which(name: &str) -> Option<PathBuf> {
    // /usr/sbin and /sbin are not in every PATH.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = std::ffi::OsString::from("/usr/bin:/bin:/usr/sbin:/sbin");
    std::env::split_paths(&path)
        .chain(std::env::split_paths(&extra))
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// Runs the unit's ExecStart as systemd would (its state and cache
/// directories made here, its environment file read): the agent must
/// accept every argument, read the credentials and the trusted keys, and
/// still be trying to reach its server after two seconds.
fn agent_starts(argv: &[String], env_file: Option<&Path>) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let cache = dir.path().join("cache");
    std::fs::create_dir_all(&state).unwrap();
    std::fs::create_dir_all(&cache).unwrap();
    let argv: Vec<String> = argv
        .iter()
        .map(|a| {
            a.replace("${STATE_DIRECTORY}", state.to_str().unwrap())
                .replace("${CACHE_DIRECTORY}", cache.to_str().unwrap())
        })
        .collect();
    let mut c = Command::new(&argv[0]);
    c.args(&argv[1..])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(f) = env_file {
        for line in std::fs::read_to_string(f).unwrap().lines() {
            let (k, v) = line.split_once('=').expect("KEY=VALUE");
            c.env(k, v);
        }
    }
    let mut child = c.spawn().unwrap();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(2) {
        if child.try_wait().unwrap().is_some() {
            let o = child.wait_with_output().unwrap();
            panic!(
                "the agent of the unit stopped ({}):\n{}",
                o.status,
                stderr(&o)
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap();
    let o = child.wait_with_output().unwrap();
    let err = stderr(&o);
    // takedown's own messages and clap's; the NATS client's reconnection
    // notes ("client error: nats: IO error") are expected here.
    let complaint = |l: &&str| {
        l.starts_with("error:")
            || l.starts_with("takedown: error")
            || l.starts_with("takedown: warning")
    };
    assert!(
        !err.lines().any(|l| complaint(&l)),
        "the agent complained:\n{err}"
    );
}

#[test]
fn ansible_playbook_passes_syntax_check() {
    let Some(a) = Ansible::find() else { return };
    let mut c = a.cmd();
    c.args(["--syntax-check", "-i", "localhost,"])
        .arg(playbook());
    let o = run_with_timeout(c, 120);
    assert!(
        o.status.success(),
        "syntax check:\n{}\n{}",
        stdout(&o),
        stderr(&o)
    );
    assert!(stdout(&o).contains("playbook:"), "{}", stdout(&o));
}

#[test]
fn ansible_installs_the_agent_and_a_second_run_changes_nothing() {
    let Some(a) = Ansible::find() else { return };
    let site = Site::new();
    // A signer retired since the last run: its key must go.
    std::fs::create_dir_all(site.at("etc/takedown/keys")).unwrap();
    std::fs::write(site.at("etc/takedown/keys/retired.pub"), "old key\n").unwrap();
    let url = format!("tls://127.0.0.1:{}", closed_port());
    let vars = merge(
        site.base_vars(),
        json!({
            "takedown_agent_nats_url": url,
            "takedown_agent_labels": {"os": "linux", "site": "fra-1"},
            "takedown_agent_no_actions": true,
            "takedown_agent_extra_args": ["--ack-wait", "120"],
            "takedown_agent_creds_src": site.src("web1.creds"),
            "takedown_agent_tls_ca_src": site.src("nats-ca.pem"),
        }),
    );

    let first = a.run(&vars);
    let (changed, failed) = recap(&first);
    assert_eq!(failed, 0, "{}\n{}", stdout(&first), stderr(&first));
    assert!(changed > 0, "the first run installs: {}", stdout(&first));

    // The files, byte for byte, with their modes.
    let bin = site.at("usr/local/bin/takedown");
    assert_eq!(
        std::fs::read(&bin).unwrap(),
        std::fs::read(site.src("takedown")).unwrap()
    );
    assert_eq!(mode(&bin), 0o755);
    let creds = site.at("etc/takedown/agent.creds");
    assert_eq!(
        std::fs::read(&creds).unwrap(),
        std::fs::read(site.src("web1.creds")).unwrap()
    );
    assert_eq!(mode(&creds), 0o600, "the credentials are private");
    let ca = site.at("etc/takedown/nats-ca.pem");
    assert_eq!(
        std::fs::read(&ca).unwrap(),
        std::fs::read(site.src("nats-ca.pem")).unwrap()
    );
    assert_eq!(mode(&ca), 0o644, "a CA certificate is public");
    let key = site.at("etc/takedown/keys/publisher.pub");
    assert_eq!(
        std::fs::read(&key).unwrap(),
        std::fs::read(site.src("publisher.pub")).unwrap()
    );
    assert_eq!(mode(&key), 0o644);
    assert!(
        !site.at("etc/takedown/keys/retired.pub").exists(),
        "a retired key stays trusted"
    );
    assert!(
        !site.at("etc/takedown/agent.env").exists(),
        "no password, no environment file"
    );
    let unit_path = site.at("etc/systemd/system/takedown-agent.service");
    assert_eq!(mode(&unit_path), 0o644);

    // ExecStart, as systemd splits it.
    let unit = site.unit();
    let argv = exec_start(&unit);
    assert_eq!(argv[0], bin.to_str().unwrap());
    assert_eq!(argv[1], "agent");
    assert_eq!(values(&argv, "--nats"), [url.as_str()]);
    // The inventory name, as it is a valid host id.
    assert_eq!(values(&argv, "--host-id"), ["localhost"]);
    let labels: BTreeSet<&str> = values(&argv, "--label").into_iter().collect();
    assert_eq!(labels, BTreeSet::from(["os=linux", "site=fra-1"]));
    assert!(argv.iter().any(|a| a == "--no-actions"), "{argv:?}");
    assert_eq!(values(&argv, "--ack-wait"), ["120"]);
    assert_eq!(values(&argv, "--creds"), [creds.to_str().unwrap()]);
    assert_eq!(values(&argv, "--tls-ca"), [ca.to_str().unwrap()]);
    assert_eq!(
        values(&argv, "--trusted-keys"),
        [site.at("etc/takedown/keys").to_str().unwrap()]
    );
    assert_eq!(
        values(&argv, "--vault"),
        [site.at("var/lib/takedown/quarantine").to_str().unwrap()]
    );

    // The unit dist/ ships, and this one, differ only in what the role
    // fills in: the same service settings and hardening, and every option
    // of its ExecStart.
    let shipped = std::fs::read_to_string(repo().join("dist/takedown-agent.service")).unwrap();
    let settings = |u: &str| -> Vec<String> {
        logical_lines(u)
            .into_iter()
            .filter(|l| {
                !l.trim().is_empty()
                    && !l.starts_with("ExecStart=")
                    && !l.starts_with("EnvironmentFile=")
            })
            .collect()
    };
    assert_eq!(
        settings(&unit),
        settings(&shipped),
        "the role's template (dist/ansible/roles/takedown_agent/templates) \
         no longer matches dist/takedown-agent.service"
    );
    for flag in exec_start(&shipped).iter().filter(|w| w.starts_with("--")) {
        assert!(
            argv.contains(flag),
            "{flag} of dist/takedown-agent.service is not in {argv:?}"
        );
    }

    systemd_verify(&unit_path);
    agent_starts(&argv, None);

    let second = a.run(&vars);
    assert_eq!(
        recap(&second),
        (0, 0),
        "the second run changed something:\n{}",
        stdout(&second)
    );
    assert_eq!(site.unit(), unit);

    // A binary that does not run on the target (here: not a program at
    // all) is refused before it replaces the working one.
    let broken = site.src("takedown-broken");
    std::fs::write(&broken, b"\x7fELF\x02\x01\x01 not a program").unwrap();
    std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o755)).unwrap();
    let third = a.run(&merge(
        vars.clone(),
        json!({"takedown_agent_binary_src": broken}),
    ));
    assert_ne!(recap(&third).1, 0, "a broken binary was accepted");
    assert_eq!(
        std::fs::read(&bin).unwrap(),
        std::fs::read(site.src("takedown")).unwrap(),
        "the working binary was replaced"
    );
}

#[test]
fn ansible_keeps_a_nats_password_out_of_the_unit() {
    let Some(a) = Ansible::find() else { return };
    let site = Site::new();
    let secret = "s3cr%40t";
    let url = format!("nats://web-1:{secret}@127.0.0.1:{}", closed_port());
    let creds = creds_file(9);
    let vars = merge(
        site.base_vars(),
        json!({
            "takedown_agent_nats_url": url,
            "takedown_agent_host_id": "web-1",
            "takedown_agent_labels": {},
            // As from Ansible Vault: the content, not a file.
            "takedown_agent_creds": creds,
            "takedown_agent_hosts": "all",
        }),
    );
    let o = a.run_on(&["-i", "localhost,", "--diff"], &vars);
    let (changed, failed) = recap(&o);
    assert_eq!(failed, 0, "{}\n{}", stdout(&o), stderr(&o));
    assert!(changed > 0);
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        !said.contains(secret),
        "the password is in Ansible's output"
    );
    assert!(
        !said.contains("NKEY"),
        "the credentials are in Ansible's output"
    );

    let env = site.at("etc/takedown/agent.env");
    assert_eq!(
        std::fs::read_to_string(&env).unwrap(),
        format!("TAKEDOWN_NATS={url}\n")
    );
    assert_eq!(mode(&env), 0o600);
    let creds_path = site.at("etc/takedown/agent.creds");
    assert_eq!(std::fs::read_to_string(&creds_path).unwrap(), creds);
    assert_eq!(mode(&creds_path), 0o600);
    assert!(!site.at("etc/takedown/nats-ca.pem").exists());

    let unit = site.unit();
    assert!(
        !unit.contains(secret),
        "the password is in the unit:\n{unit}"
    );
    let argv = exec_start(&unit);
    assert!(values(&argv, "--nats").is_empty(), "{argv:?}");
    assert_eq!(values(&argv, "--host-id"), ["web-1"]);
    assert!(values(&argv, "--label").is_empty());
    assert!(values(&argv, "--tls-ca").is_empty());
    assert!(!argv.iter().any(|a| a == "--no-actions"));
    assert!(
        unit.contains(&format!("EnvironmentFile=-{}", env.display())),
        "{unit}"
    );
    systemd_verify(&site.at("etc/systemd/system/takedown-agent.service"));
    // The agent takes its server, user and password from the file.
    agent_starts(&argv, Some(&env));

    let again = a.run(&vars);
    assert_eq!(recap(&again), (0, 0), "{}", stdout(&again));
}

#[test]
fn ansible_refuses_bad_values_before_writing_anything() {
    let Some(a) = Ansible::find() else { return };
    let site = Site::new();
    for (bad, what) in [
        (
            json!({"takedown_agent_host_id": "all"}),
            "the reserved host id",
        ),
        (
            json!({"takedown_agent_labels": {"os": "linux", "site": "fra.1"}}),
            "a label with a dot (a NATS subject level)",
        ),
        (
            json!({"takedown_agent_nats_url": "nats://127.0.0.1:4222 --allow-unsigned"}),
            "a URL that smuggles an option",
        ),
        (
            json!({"takedown_agent_nats_url": "nats://$HOME:4222"}),
            "a URL systemd would expand",
        ),
    ] {
        let vars = merge(
            merge(
                site.base_vars(),
                json!({"takedown_agent_nats_url": "nats://127.0.0.1:4222"}),
            ),
            bad,
        );
        let o = a.run(&vars);
        assert_ne!(recap(&o).1, 0, "{what} was accepted:\n{}", stdout(&o));
        let said = format!("{}{}", stdout(&o), stderr(&o));
        assert!(said.contains("takedown_agent:"), "{said}");
        assert!(!site.root().exists(), "{what}: files were written");
    }
}

// ---------------------------------------------------------------------
// The Velociraptor artifact.

/// The artifact as JSON, read by PyYAML (ansible-core's YAML reader).
fn artifact(python: &Path) -> Value {
    let text = run_python(
        python,
        "import json, sys, yaml\n\
         with open(sys.argv[1], encoding='utf-8') as f:\n    \
             json.dump(yaml.safe_load(f), sys.stdout)",
        &[repo()
            .join("dist/velociraptor/Takedown.Scan.yaml")
            .to_str()
            .unwrap()],
    );
    serde_json::from_str(&text).unwrap()
}

/// A parameter's value as VQL sees it: a string, or for `csv` the rows
/// (dicts of the header's columns), for `json_array` the array.
fn parameter(art: &Value, name: &str) -> Value {
    let p = art["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("no parameter {name}"));
    let default = match &p["default"] {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => panic!("{name}: a default must be a string, not {other}"),
    };
    match p["type"].as_str().unwrap_or("string") {
        "csv" => {
            let mut lines = default.lines();
            let header: Vec<&str> = lines.next().unwrap_or("").split(',').collect();
            let rows: Vec<Value> = lines
                .filter(|l| !l.is_empty())
                .map(|l| {
                    let cells: Vec<&str> = l.split(',').collect();
                    assert_eq!(cells.len(), header.len(), "{name}: {l:?}");
                    Value::Object(
                        header
                            .iter()
                            .zip(cells)
                            .map(|(h, c)| (h.to_string(), json!(c)))
                            .collect(),
                    )
                })
                .collect();
            json!(rows)
        }
        "json_array" => {
            let v: Value = serde_json::from_str(&default).unwrap();
            assert!(v.is_array(), "{name}: {default}");
            v
        }
        "int" => json!(default.parse::<i64>().unwrap()),
        "string" => json!(default),
        other => panic!("{name}: parameter type {other} not evaluated here"),
    }
}

/// Splits `s` at `sep` outside brackets, parentheses and string literals.
fn split_top(s: &str, sep: char) -> Vec<String> {
    let mut out = vec![String::new()];
    let (mut depth, mut quote) = (0i32, None::<char>);
    for c in s.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '[' | '(' | '{') => depth += 1,
            (None, ']' | ')' | '}') => depth -= 1,
            (None, c) if c == sep && depth == 0 => {
                out.push(String::new());
                continue;
            }
            _ => {}
        }
        out.last_mut().unwrap().push(c);
    }
    out.into_iter().map(|t| t.trim().to_string()).collect()
}

fn string_literal(s: &str) -> Option<String> {
    let inner = s
        .strip_prefix('"')
        .and_then(|t| t.strip_suffix('"'))
        .or_else(|| s.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')))?;
    assert!(!inner.contains('\\'), "escapes are not evaluated here: {s}");
    Some(inner.to_string())
}

/// The statement `LET name <= ...` of the query, on one line.
fn let_statement<'a>(query: &'a str, name: &str) -> &'a str {
    let head = format!("LET {name} <= ");
    query
        .lines()
        .find_map(|l| l.trim().strip_prefix(head.as_str()))
        .unwrap_or_else(|| panic!("the query has no one-line `{head}...`"))
}

/// The argv the artifact hands to execve(), its `LET`s evaluated over
/// these parameters the way VQL evaluates them.
fn artifact_argv(query: &str, params: &BTreeMap<&str, Value>) -> Vec<String> {
    // LET Binary <= if(condition=P, then=P, else=<the server's tool>)
    let binary = let_statement(query, "Binary");
    let cond = binary
        .strip_prefix("if(condition=")
        .and_then(|r| r.split_once(", then="))
        .map(|(c, r)| (c, r.split(',').next().unwrap_or("")))
        .unwrap_or_else(|| panic!("Binary: {binary}"));
    assert_eq!(cond.0, cond.1, "Binary: {binary}");
    let binary = params[cond.0].as_str().unwrap().to_string();
    assert!(!binary.is_empty(), "the test gives {}", cond.0);

    // LET X <= SELECT [lit +] Path AS Arg FROM CsvParam WHERE Path
    let query_rows = |name: &str| -> Vec<String> {
        let stmt = let_statement(query, name);
        let rest = stmt
            .strip_prefix("SELECT ")
            .unwrap_or_else(|| panic!("{stmt}"));
        let (expr, rest) = rest
            .split_once(" AS Arg FROM ")
            .unwrap_or_else(|| panic!("{stmt}"));
        let (source, filter) = rest
            .split_once(" WHERE ")
            .unwrap_or_else(|| panic!("{stmt}"));
        assert_eq!(filter, "Path", "{stmt}");
        let terms = split_top(expr, '+');
        let (prefix, column) = match terms.as_slice() {
            [c] => (String::new(), c.as_str()),
            [lit, c] => (
                string_literal(lit).unwrap_or_else(|| panic!("{stmt}")),
                c.as_str(),
            ),
            _ => panic!("{stmt}"),
        };
        assert_eq!(column, "Path", "{stmt}");
        params[source]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|row| row["Path"].as_str().filter(|p| !p.is_empty()))
            .map(|p| format!("{prefix}{p}"))
            .collect()
    };

    let mut argv = Vec::new();
    for term in split_top(let_statement(query, "Argv"), '+') {
        if let Some(list) = term.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            for item in split_top(list, ',') {
                match string_literal(&item) {
                    Some(s) => argv.push(s),
                    None if item == "Binary" => argv.push(binary.clone()),
                    None => panic!("Argv: cannot evaluate {item}"),
                }
            }
        } else if let Some(name) = term.strip_suffix(".Arg") {
            argv.extend(query_rows(name));
        } else {
            let v = params
                .get(term.as_str())
                .unwrap_or_else(|| panic!("Argv: unknown {term}"));
            for a in v
                .as_array()
                .unwrap_or_else(|| panic!("{term} is not an array"))
            {
                argv.push(a.as_str().unwrap().to_string());
            }
        }
    }
    argv
}

/// The record fields the query reads (`Record.path`, and
/// `Record.detections.name` as `detections.name`).
fn selected_fields(query: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in query.match_indices("Record.") {
        let rest = &query[i + "Record.".len()..];
        let field: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
            .collect();
        out.insert(field.trim_end_matches('.').to_string());
    }
    out
}

/// Runs the argv (takedown's part; argv[0] is the binary) in the tree,
/// with its caches, vault and sets private to it.
fn run_argv(t: &Tree, argv: &[String]) -> Output {
    let mut c = t.cmd();
    c.args(&argv[1..]);
    run_with_timeout(c, 120)
}

#[test]
fn velociraptor_artifact_output_contract() {
    let Some(python) = reference_python() else {
        return;
    };
    let has_yaml = Command::new(&python)
        .args(["-c", "import yaml"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_yaml {
        missing("PyYAML in the reference Python (pip package ansible-core brings it)");
        return;
    }
    let art = artifact(&python);
    assert_eq!(art["name"], "Takedown.Scan");
    assert_eq!(art["type"], "CLIENT");
    assert!(
        art["required_permissions"]
            .as_array()
            .is_some_and(|p| p.contains(&json!("EXECVE"))),
        "execve() needs EXECVE"
    );
    let sources = art["sources"].as_array().unwrap();
    assert_eq!(sources.len(), 1, "one source: takedown runs once");
    let query = sources[0]["query"].as_str().unwrap();
    assert!(
        query.contains(r#"execve(argv=Argv, sep="\n", length=MaxLineBytes)"#),
        "the query runs Argv one line per row:\n{query}"
    );
    assert!(query.contains(r#"Stdout =~ "^[{]", then=parse_json(data=Stdout)"#));

    // Every parameter's default reads as its type says.
    for p in art["parameters"].as_array().unwrap() {
        parameter(&art, p["name"].as_str().unwrap());
    }
    for row in parameter(&art, "ScanPaths").as_array().unwrap() {
        assert!(row["Path"].as_str().unwrap().starts_with('/'), "{row}");
    }
    let max_line = parameter(&art, "MaxLineBytes").as_i64().unwrap();

    let t = Tree::new();
    t.write("scan/home/user/Downloads/eicar.com", eicar());
    t.write("scan/srv/www/marker.txt", b"... takedown-deploy-marker ...");
    t.write("scan/srv/www/clean.txt", b"nothing to see");
    t.write(
        "rules/deploy.yar",
        "rule Deploy_Marker { strings: $a = \"takedown-deploy-marker\" condition: $a }\n",
    );
    t.write("again/eicar.com", eicar());

    let mut params: BTreeMap<&str, Value> = BTreeMap::new();
    for p in art["parameters"].as_array().unwrap() {
        let name = p["name"].as_str().unwrap();
        params.insert(name, parameter(&art, name));
    }
    params.insert("TakedownPath", json!(env!("CARGO_BIN_EXE_takedown")));
    params.insert("ScanPaths", json!([{"Path": t.arg("scan")}]));
    params.insert("Signatures", json!([{"Path": t.arg("rules")}]));
    let argv = artifact_argv(query, &params);
    assert_eq!(argv[0], env!("CARGO_BIN_EXE_takedown"));
    assert_eq!(&argv[1..4], ["scan", "--format", "json"], "{argv:?}");
    assert_eq!(argv.last().unwrap(), &t.arg("scan"), "{argv:?}");
    assert!(
        argv.contains(&format!("--signatures={}", t.arg("rules"))),
        "{argv:?}"
    );

    // The same with an action asked for in ExtraArgs, so that the
    // action's field shows too.
    params.insert("ScanPaths", json!([{"Path": t.arg("again")}]));
    params.insert("ExtraArgs", json!(["--action", "quarantine"]));
    let acting = artifact_argv(query, &params);

    let mut records = Vec::new();
    for (argv, found) in [(&argv, 2), (&acting, 1)] {
        let o = run_argv(&t, argv);
        assert_eq!(code(&o), 1, "exit 1: something found\n{}", stderr(&o));
        let out = stdout(&o);
        // What the query relies on: a record per line, each line opening
        // with `{` and within MaxLineBytes, no line of stderr taken for
        // one, the summary last.
        for line in out.lines() {
            assert!(line.starts_with('{'), "{line}");
            assert!((line.len() as i64) < max_line, "a line over MaxLineBytes");
        }
        assert!(stderr(&o).lines().all(|l| !l.starts_with('{')));
        let recs = ndjson(&o);
        assert_eq!(recs.last().unwrap()["type"], "summary");
        assert!(
            recs.iter()
                .all(|r| r["type"] == "finding" || r["type"] == "summary")
        );
        assert_eq!(findings(&o).len(), found, "{out}");
        records.extend(recs);
    }

    // The detections show up, on the right paths.
    let named = |path: &str, rule: &str| {
        records.iter().any(|r| {
            r["path"] == path
                && r["detections"]
                    .as_array()
                    .is_some_and(|d| d.iter().any(|d| d["name"] == rule))
        })
    };
    assert!(named(
        &t.arg("scan/home/user/Downloads/eicar.com"),
        "EICAR_Test_File"
    ));
    assert!(named(&t.arg("scan/srv/www/marker.txt"), "Deploy_Marker"));
    assert!(named(&t.arg("again/eicar.com"), "EICAR_Test_File"));
    assert!(!t.path("again/eicar.com").exists(), "quarantined");

    // Every field the query selects is in the output and in the schema.
    let schema: Value =
        serde_json::from_slice(&std::fs::read(repo().join("docs/finding.schema.json")).unwrap())
            .unwrap();
    let documented =
        |def: &str, field: &str| schema["$defs"][def]["properties"].get(field).is_some();
    let fields = selected_fields(query);
    for expected in [
        "type",
        "path",
        "detections.name",
        "problems",
        "files_scanned",
    ] {
        assert!(
            fields.contains(expected),
            "{expected} not selected: {fields:?}"
        );
    }
    for field in &fields {
        let (top, sub) = match field.split_once('.') {
            Some((a, b)) => (a, Some(b)),
            None => (field.as_str(), None),
        };
        let present = records.iter().any(|r| match (r.get(top), sub) {
            (Some(v), None) => !v.is_null(),
            (Some(Value::Array(items)), Some(sub)) => {
                !items.is_empty() && items.iter().all(|i| i.get(sub).is_some())
            }
            _ => false,
        });
        assert!(present, "Record.{field} is in no record of the output");
        assert!(
            documented("finding", top) || documented("summary", top),
            "Record.{top} is not in docs/finding.schema.json"
        );
        if let Some(sub) = sub {
            assert!(
                schema["$defs"]["detection"]["properties"]
                    .get(sub)
                    .is_some(),
                "Record.{field}: {sub} is not a documented detection field"
            );
        }
    }
}

#[test]
fn ansible_example_inventory_names_an_agent_after_its_host() {
    let Some(a) = Ansible::find() else { return };
    let site = Site::new();
    // The example's own values, except where files go and come from.
    let vars = merge(
        site.base_vars(),
        json!({
            "takedown_agent_nats_url": "tls://127.0.0.1:4222",
            "takedown_agent_creds_src": site.src("web1.creds"),
            "takedown_agent_tls_ca_src": site.src("nats-ca.pem"),
        }),
    );
    let inventory = repo().join("dist/ansible/inventory.example.yml");
    let o = a.run_on(
        &[
            "-i",
            inventory.to_str().unwrap(),
            "--limit",
            "web1.example.org",
        ],
        &vars,
    );
    let (changed, failed) = recap(&o);
    assert_eq!(failed, 0, "{}\n{}", stdout(&o), stderr(&o));
    assert!(changed > 0);
    let argv = exec_start(&site.unit());
    // A host id is one NATS subject token: the dots of the name go.
    assert_eq!(values(&argv, "--host-id"), ["web1_example_org"]);
    let labels: BTreeSet<&str> = values(&argv, "--label").into_iter().collect();
    assert_eq!(labels, BTreeSet::from(["os=linux", "role=web", "site=fra"]));
    assert!(!argv.iter().any(|a| a == "--no-actions"), "{argv:?}");
}

#[test]
fn ansible_check_mode_writes_nothing() {
    let Some(a) = Ansible::find() else { return };
    let site = Site::new();
    let vars = merge(
        site.base_vars(),
        json!({
            "takedown_agent_hosts": "all",
            "takedown_agent_nats_url": "nats://web1:pw-0451@127.0.0.1:4222",
            "takedown_agent_creds_src": site.src("web1.creds"),
        }),
    );
    let o = a.run_on(&["-i", "localhost,", "--check", "--diff"], &vars);
    // --diff shows files as they would change, but never the secrets.
    let said = format!("{}{}", stdout(&o), stderr(&o));
    assert!(
        !said.contains("NKEY"),
        "the credentials are in the diff:\n{said}"
    );
    assert!(
        !said.contains("pw-0451"),
        "the password is in the diff:\n{said}"
    );
    let (changed, failed) = recap(&o);
    assert_eq!(failed, 0, "{}\n{}", stdout(&o), stderr(&o));
    assert!(changed > 0, "check mode shows what would change");
    assert!(
        stdout(&o).contains("--host-id localhost"),
        "the diff shows the unit:\n{}",
        stdout(&o)
    );
    assert!(!site.root().exists(), "check mode wrote files");
}
