//! A real nats-server with JetStream on loopback for the tests that need
//! one (`fleet.rs`, `fleet_hunt.rs`): included with `#[path]`, so that the
//! other test binaries do not carry it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A nats-server with JetStream, killed when dropped.
pub struct Nats {
    pub child: Child,
    pub conf: PathBuf,
    pub port: u16,
    /// Users and passwords are `NAME`/`NAME-pw`; None: no authorization.
    pub secured: bool,
    /// `nats` or `tls`.
    pub scheme: &'static str,
    pub url: String,
    _store: tempfile::TempDir,
}

/// nats-server `bin` on the configuration file `conf`, quiet.
fn spawn_server(bin: &std::path::Path, conf: &std::path::Path) -> Child {
    Command::new(bin)
        .arg("-c")
        .arg(conf)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

pub fn nats_server_binary() -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut dirs: Vec<PathBuf> = std::env::split_paths(&path).collect();
    // Debian installs it in /usr/sbin, which is not in every PATH.
    dirs.push("/usr/sbin".into());
    dirs.push("/usr/local/sbin".into());
    dirs.into_iter()
        .map(|d| d.join("nats-server"))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "nats-server is not installed: the fleet and shared hunting tests need a real NATS server \
                 (Debian: apt-get install nats-server)"
            )
        })
}

impl Nats {
    pub fn start() -> Nats {
        Nats::start_with(None)
    }

    /// With `authorization`, a configuration block for the server
    /// (docs/fleet.md's, users `NAME` with password `NAME-pw`).
    pub fn start_with(authorization: Option<&str>) -> Nats {
        let bin = nats_server_binary();
        let store = tempfile::Builder::new()
            .prefix("takedown-nats")
            .tempdir()
            .unwrap();
        // The server picks a free port itself (port -1) and says which in
        // its log: no window in which another process could take it.
        let conf = store.path().join("server.conf");
        let log = store.path().join("nats.log");
        let write_conf = |port: &str| {
            std::fs::write(
                &conf,
                format!(
                    "host: \"127.0.0.1\"\nport: {port}\nlog_file: \"{}\"\njetstream {{ store_dir: \"{}\" }}\n{}\n",
                    log.display(),
                    store.path().join("js").display(),
                    authorization.unwrap_or("")
                ),
            )
            .unwrap()
        };
        write_conf("-1");
        let mut child = spawn_server(&bin, &conf);
        let started = Instant::now();
        let port = loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(port) = text
                .lines()
                .find_map(|l| l.split_once("Listening for client connections on 127.0.0.1:"))
                .and_then(|(_, p)| p.trim().parse::<u16>().ok())
            {
                break port;
            }
            if let Ok(Some(status)) = child.try_wait() {
                panic!("nats-server exited ({status}): {text}");
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("nats-server did not start on loopback: {text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // A restart keeps the port.
        write_conf(&port.to_string());
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nats-server is not reachable"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let mut n = Nats {
            child,
            conf,
            port,
            secured: authorization.is_some_and(|a| a.contains("authorization")),
            scheme: "nats",
            url: String::new(),
            _store: store,
        };
        n.url = n.url_for("analyst");
        n
    }

    /// Stops the server and starts it again on the same port and store.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn_server(&nats_server_binary(), &self.conf);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nats-server did not come back"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The URL a user connects with.
    pub fn url_for(&self, user: &str) -> String {
        if self.secured {
            format!("{}://{user}:{user}-pw@127.0.0.1:{}", self.scheme, self.port)
        } else {
            format!("{}://127.0.0.1:{}", self.scheme, self.port)
        }
    }
}

impl Drop for Nats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
