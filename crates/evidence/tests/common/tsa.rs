//! A test time-stamping authority (RFC 3161) on loopback, made with the
//! real `openssl` at test time: a root CA, a TSA certificate it issued
//! (extendedKeyUsage critical timeStamping), and a small HTTP/1.1 server
//! that answers each POSTed query with `openssl ts -reply`.
//!
//! Self-contained (std and tempfile only) so any test can include it:
//! `#[path = "common/tsa.rs"] mod tsa;`, or from another crate
//! `#[path = "../../evidence/tests/common/tsa.rs"] mod tsa;`.
//!
//! Without `openssl`, [`start`] returns `None` (the test skips with a
//! message), unless `CI` is set: then it panics, so CI never passes by
//! skipping.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// The policy OID the test TSA stamps under.
pub const POLICY: &str = "1.3.6.1.4.1.55555.1.1";
/// The TSA certificate's common name.
pub const TSA_CN: &str = "takedown test TSA";
/// The root CA's common name (the untrusted [`TestTsa::other_ca`] has the
/// same, so only signatures tell them apart).
pub const CA_CN: &str = "takedown test root CA";
/// The intermediate CA's common name ([`Options::intermediate`]).
pub const INTERMEDIATE_CN: &str = "takedown test intermediate CA";
/// What [`Behaviour::Rejection`] says in its statusString.
pub const REJECTION_TEXT: &str = "request refused by policy";

/// A key type, for the CA or the TSA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    /// RSA 2048, PKCS#1 v1.5 signatures.
    Rsa2048,
    /// RSA 2048 that signs certificates with RSASSA-PSS (salt 32, SHA-256).
    /// For the TSA key it is plain RSA: `openssl ts` signs PKCS#1 v1.5.
    RsaPss2048,
    /// ECDSA P-256.
    EcP256,
    /// ECDSA P-384.
    EcP384,
}

/// How the test TSA answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// A real stamp of the query (`openssl ts -reply`).
    Good,
    /// 200 with a body that is not DER.
    Garbage,
    /// 200 with a TimeStampResp of status rejection, statusString
    /// [`REJECTION_TEXT`], failInfo badAlg.
    Rejection,
    /// A real stamp, but over other data than asked (and another nonce).
    WrongImprint,
    /// The answer to the first query, for every query (a replay).
    Replay,
    /// HTTP 500.
    ServerError,
}

/// How to build the test TSA.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// The root CA's key.
    pub ca: Key,
    /// The TSA's key.
    pub tsa: Key,
    /// How it answers.
    pub behaviour: Behaviour,
    /// An intermediate CA between the root and the TSA (embedded in
    /// every token).
    pub intermediate: bool,
    /// Whether tokens embed the root too (`certs` in the ts config).
    pub embed_root: bool,
    /// Whether tokens carry the TSA's certificate twice (as OpenSSL does
    /// when the configured chain holds it too; some TSAs do).
    pub duplicate_tsa_cert: bool,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            ca: Key::EcP256,
            tsa: Key::Rsa2048,
            behaviour: Behaviour::Good,
            intermediate: false,
            embed_root: true,
            duplicate_tsa_cert: false,
        }
    }
}

/// A running test TSA; stops when dropped.
pub struct TestTsa {
    /// `http://127.0.0.1:PORT/tsa`.
    pub url: String,
    /// The root CA certificate (PEM): the trust anchor.
    pub ca_pem: PathBuf,
    /// The TSA's certificate (PEM).
    pub tsa_pem: PathBuf,
    /// The `openssl ts` configuration.
    pub conf: PathBuf,
    /// Where everything lives.
    pub dir: tempfile::TempDir,
    /// Queries answered so far.
    pub requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    addr: SocketAddr,
    thread: Option<JoinHandle<()>>,
}

/// Whether `openssl` runs; `None` (with a message) when it does not and
/// `CI` is unset; panics when it does not and `CI` is set.
pub fn openssl_present() -> bool {
    let ok = Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        if std::env::var_os("CI").is_some() {
            panic!("openssl is required for the timestamp tests (CI is set): install it");
        }
        eprintln!("skipped: openssl is not installed");
    }
    ok
}

/// A test TSA with the default options (EC P-256 root, RSA TSA, good
/// answers); `None` when openssl is missing and `CI` is unset.
pub fn start() -> Option<TestTsa> {
    start_with(Options::default())
}

/// A test TSA built and behaving as `options` say.
pub fn start_with(options: Options) -> Option<TestTsa> {
    if !openssl_present() {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    std::fs::write(d.join("x509.cnf"), X509_CONF).expect("write x509.cnf");
    make_root(d, "ca", CA_CN, options.ca);
    // The TSA's issuer: the root, or an intermediate CA the root issued.
    let issuer = if options.intermediate {
        run(openssl(d)
            .args(["req", "-new", "-config", "x509.cnf", "-nodes"])
            .args(["-keyout", "inter.key", "-out", "inter.csr"])
            .args(["-subj", &format!("/O=takedown tests/CN={INTERMEDIATE_CN}")])
            .args(newkey(Key::EcP384)));
        run(openssl(d)
            .args([
                "x509",
                "-req",
                "-in",
                "inter.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
            ])
            .args(["-set_serial", "3", "-days", "1825", "-sha384"])
            .args([
                "-extfile",
                "x509.cnf",
                "-extensions",
                "v3_ca",
                "-out",
                "inter.pem",
            ])
            .args(sigopts(options.ca)));
        "inter"
    } else {
        "ca"
    };
    run(openssl(d)
        .args(["req", "-new", "-config", "x509.cnf", "-nodes"])
        .args(["-keyout", "tsa.key", "-out", "tsa.csr"])
        .args(["-subj", &format!("/O=takedown tests/CN={TSA_CN}")])
        .args(newkey(options.tsa)));
    let issuer_key = if issuer == "ca" {
        options.ca
    } else {
        Key::EcP384
    };
    run(openssl(d)
        .args(["x509", "-req", "-in", "tsa.csr"])
        .args([
            "-CA",
            &format!("{issuer}.pem"),
            "-CAkey",
            &format!("{issuer}.key"),
        ])
        .args(["-set_serial", "2", "-days", "365", "-sha256"])
        .args([
            "-extfile",
            "x509.cnf",
            "-extensions",
            "v3_tsa",
            "-out",
            "tsa.pem",
        ])
        .args(sigopts(issuer_key)));
    // The extra certificates every token embeds besides the TSA's.
    let mut chain = Vec::new();
    if options.intermediate {
        chain.extend(std::fs::read(d.join("inter.pem")).expect("read inter.pem"));
    }
    if options.embed_root {
        chain.extend(std::fs::read(d.join("ca.pem")).expect("read ca.pem"));
    }
    if options.duplicate_tsa_cert {
        chain.extend(std::fs::read(d.join("tsa.pem")).expect("read tsa.pem"));
    }
    // An empty chain: the token carries the TSA's certificate alone.
    std::fs::write(d.join("chain.pem"), chain).expect("write chain.pem");
    std::fs::write(d.join("tsaserial"), "01\n").expect("write serial");
    let conf = d.join("ts.cnf");
    std::fs::write(&conf, ts_conf(d)).expect("write ts.cnf");

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicUsize::new(0));
    let server = Server {
        dir: d.to_path_buf(),
        conf: conf.clone(),
        behaviour: options.behaviour,
        requests: requests.clone(),
        first: Mutex::new(None),
    };
    let stop_flag = stop.clone();
    let thread = std::thread::spawn(move || {
        for stream in listener.incoming() {
            if stop_flag.load(Ordering::SeqCst) {
                break;
            }
            if let Ok(stream) = stream {
                // One client at a time is plenty for tests; a broken
                // client only ends its own connection.
                let _ = server.serve(stream);
            }
        }
    });
    Some(TestTsa {
        url: format!("http://{addr}/tsa"),
        ca_pem: d.join("ca.pem"),
        tsa_pem: d.join("tsa.pem"),
        conf,
        dir,
        requests,
        stop,
        addr,
        thread: Some(thread),
    })
}

impl TestTsa {
    /// Another root CA with the same name as the real one but its own key
    /// (PEM), which did not issue the TSA's certificate.
    pub fn other_ca(&self) -> PathBuf {
        let d = self.dir.path();
        if !d.join("other.pem").exists() {
            make_root(d, "other", CA_CN, Key::EcP256);
        }
        d.join("other.pem")
    }

    /// Stamps `data` with openssl alone (query and reply, no HTTP), with
    /// `digest` (`sha256`, `sha384`, `sha512`): a TimeStampResp (DER).
    pub fn stamp_with_openssl(&self, data: &Path, digest: &str) -> Vec<u8> {
        let d = self.dir.path();
        let n = self.requests.fetch_add(1, Ordering::SeqCst);
        let q = d.join(format!("manual-{n}.tsq"));
        let r = d.join(format!("manual-{n}.tsr"));
        run(openssl(d)
            .args(["ts", "-query", "-cert", &format!("-{digest}"), "-data"])
            .arg(data)
            .arg("-out")
            .arg(&q));
        run(openssl(d)
            .args(["ts", "-reply", "-config"])
            .arg(&self.conf)
            .arg("-queryfile")
            .arg(&q)
            .arg("-out")
            .arg(&r));
        std::fs::read(&r).expect("read reply")
    }

    /// The bare TimeStampToken (ContentInfo) of a TimeStampResp, by
    /// `openssl ts -reply -in R -token_out`.
    pub fn token_of(&self, tsr: &[u8]) -> Vec<u8> {
        let d = self.dir.path();
        let n = self.requests.fetch_add(1, Ordering::SeqCst);
        let r = d.join(format!("token-in-{n}.tsr"));
        let t = d.join(format!("token-{n}.der"));
        std::fs::write(&r, tsr).expect("write reply");
        run(openssl(d)
            .args(["ts", "-reply", "-in"])
            .arg(&r)
            .arg("-token_out")
            .arg("-out")
            .arg(&t));
        std::fs::read(&t).expect("read token")
    }
}

impl Drop for TestTsa {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(2));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// `openssl ts -verify -data DATA -in TSR -CAfile CA`: `Ok` when openssl
/// says "Verification: OK", else what it printed.
pub fn openssl_ts_verify(data: &Path, tsr: &Path, ca: &Path) -> Result<(), String> {
    openssl_verify_args(&["-data"], data, &["-in"], tsr, ca)
}

/// The same for a bare token (`-token_in`).
pub fn openssl_ts_verify_token(data: &Path, token: &Path, ca: &Path) -> Result<(), String> {
    openssl_verify_args(&["-data"], data, &["-token_in", "-in"], token, ca)
}

fn openssl_verify_args(
    data_flag: &[&str],
    data: &Path,
    in_flags: &[&str],
    tsr: &Path,
    ca: &Path,
) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(["ts", "-verify"])
        .args(data_flag)
        .arg(data)
        .args(in_flags)
        .arg(tsr)
        .arg("-CAfile")
        .arg(ca)
        .output()
        .expect("run openssl ts -verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() && text.contains("Verification: OK") {
        Ok(())
    } else {
        Err(text)
    }
}

// ---------------------------------------------------------------------

const X509_CONF: &str = "\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_tsa]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature,nonRepudiation
extendedKeyUsage = critical,timeStamping
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
";

fn ts_conf(d: &Path) -> String {
    // Forward slashes: openssl's config parser takes backslashes as escapes.
    let p = |name: &str| d.join(name).to_string_lossy().replace('\\', "/");
    format!(
        "\
[tsa]
default_tsa = tsa1
[tsa1]
serial = {serial}
crypto_device = builtin
signer_cert = {cert}
{certs}signer_key = {key}
signer_digest = sha256
default_policy = {POLICY}
other_policies = 1.3.6.1.4.1.55555.1.2
digests = sha256, sha384, sha512
accuracy = secs:1, millisecs:500, microsecs:100
clock_precision_digits = 3
ordering = yes
tsa_name = yes
ess_cert_id_chain = no
ess_cert_id_alg = sha256
",
        serial = p("tsaserial"),
        cert = p("tsa.pem"),
        certs = if std::fs::metadata(d.join("chain.pem"))
            .map(|m| m.len())
            .unwrap_or(0)
            > 0
        {
            format!("certs = {}\n", p("chain.pem"))
        } else {
            String::new()
        },
        key = p("tsa.key"),
    )
}

/// `NAME.key` and a self-signed `NAME.pem` named `cn`.
fn make_root(d: &Path, name: &str, cn: &str, key: Key) {
    run(openssl(d)
        .args([
            "req",
            "-x509",
            "-new",
            "-config",
            "x509.cnf",
            "-extensions",
            "v3_ca",
        ])
        .args(["-nodes", "-days", "3650", "-sha256"])
        .args([
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
        ])
        .args(["-subj", &format!("/O=takedown tests/CN={cn}")])
        .args(newkey(key))
        .args(sigopts(key)));
}

fn newkey(key: Key) -> Vec<&'static str> {
    match key {
        Key::Rsa2048 | Key::RsaPss2048 => vec!["-newkey", "rsa:2048"],
        Key::EcP256 => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"],
        Key::EcP384 => vec!["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-384"],
    }
}

fn sigopts(key: Key) -> Vec<&'static str> {
    match key {
        Key::RsaPss2048 => vec![
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:32",
            "-sigopt",
            "rsa_mgf1_md:sha256",
        ],
        _ => vec![],
    }
}

fn openssl(dir: &Path) -> Command {
    let mut c = Command::new("openssl");
    c.current_dir(dir);
    c
}

/// Runs a setup command; a failure is a broken test environment.
fn run(c: &mut Command) {
    let out = c.output().expect("run openssl");
    assert!(
        out.status.success(),
        "{c:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A DER TLV with a short or long definite length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend([0x81, len as u8]);
    } else {
        out.extend([0x82, (len >> 8) as u8, len as u8]);
    }
    out.extend_from_slice(content);
    out
}

/// A TimeStampResp with status rejection (2), statusString
/// [`REJECTION_TEXT`] and failInfo badAlg (bit 0).
pub fn rejection_der() -> Vec<u8> {
    let status = tlv(0x02, &[2]);
    let text = tlv(0x30, &tlv(0x0c, REJECTION_TEXT.as_bytes()));
    let fail_info = tlv(0x03, &[0x07, 0x80]);
    let info = tlv(0x30, &[status, text, fail_info].concat());
    tlv(0x30, &info)
}

struct Server {
    dir: PathBuf,
    conf: PathBuf,
    behaviour: Behaviour,
    requests: Arc<AtomicUsize>,
    first: Mutex<Option<Vec<u8>>>,
}

impl Server {
    fn serve(&self, mut stream: TcpStream) -> std::io::Result<()> {
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let Some(query) = read_request(&mut stream)? else {
            return Ok(());
        };
        let n = self.requests.fetch_add(1, Ordering::SeqCst);
        let (code, body) = match self.behaviour {
            Behaviour::Good => self.reply(n, &query),
            Behaviour::Garbage => (200, b"<html>this is not a timestamp</html>".to_vec()),
            Behaviour::Rejection => (200, rejection_der()),
            Behaviour::ServerError => (500, b"the TSA is down".to_vec()),
            Behaviour::WrongImprint => {
                let other = self.dir.join(format!("other-{n}.txt"));
                let q = self.dir.join(format!("other-{n}.tsq"));
                std::fs::write(&other, b"not what was asked")?;
                let out = openssl(&self.dir)
                    .args(["ts", "-query", "-cert", "-sha256", "-data"])
                    .arg(&other)
                    .arg("-out")
                    .arg(&q)
                    .output()?;
                if out.status.success() {
                    let q = std::fs::read(&q)?;
                    self.reply(n, &q)
                } else {
                    (500, out.stderr)
                }
            }
            Behaviour::Replay => {
                let mut first = self.first.lock().unwrap_or_else(|p| p.into_inner());
                match &*first {
                    Some(saved) => (200, saved.clone()),
                    None => {
                        let (code, body) = self.reply(n, &query);
                        if code == 200 {
                            *first = Some(body.clone());
                        }
                        (code, body)
                    }
                }
            }
        };
        let reason = if code == 200 {
            "OK"
        } else {
            "Internal Server Error"
        };
        let head = format!(
            "HTTP/1.1 {code} {reason}\r\nContent-Type: application/timestamp-reply\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes())?;
        stream.write_all(&body)?;
        stream.flush()
    }

    /// `openssl ts -reply` to `query`: (200, the reply) or (500, why not).
    fn reply(&self, n: usize, query: &[u8]) -> (u16, Vec<u8>) {
        let q = self.dir.join(format!("q-{n}.tsq"));
        let r = self.dir.join(format!("r-{n}.tsr"));
        if let Err(e) = std::fs::write(&q, query) {
            return (500, e.to_string().into_bytes());
        }
        let out = openssl(&self.dir)
            .args(["ts", "-reply", "-config"])
            .arg(&self.conf)
            .arg("-queryfile")
            .arg(&q)
            .arg("-out")
            .arg(&r)
            .output();
        match out {
            Ok(o) if o.status.success() => match std::fs::read(&r) {
                Ok(bytes) => (200, bytes),
                Err(e) => (500, e.to_string().into_bytes()),
            },
            Ok(o) => (500, o.stderr),
            Err(e) => (500, e.to_string().into_bytes()),
        }
    }
}

/// Reads one HTTP request; its body, or `None` for a connection without
/// one (the wake-up connection of Drop).
fn read_request(stream: &mut TcpStream) -> std::io::Result<Option<Vec<u8>>> {
    const MAX_HEAD: usize = 64 * 1024;
    const MAX_BODY: usize = 1 << 20;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return Ok(None);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Ok(None);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let length = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if length > MAX_BODY {
        return Ok(None);
    }
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    Ok(Some(body))
}
