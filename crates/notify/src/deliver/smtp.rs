//! The SMTP transport: lettre's blocking client, one connection per
//! message, to one relay given as a URL.
//!
//! URL forms (the relay, never the recipients' own servers):
//!
//! | URL | connection |
//! |---|---|
//! | `smtp://[user:pass@]host[:port]` | STARTTLS required (port 587 unless given): no credentials nor message ever go in clear |
//! | `smtps://[user:pass@]host[:port]` | implicit TLS (port 465 unless given) |
//! | `smtp://host?tls=opportunistic` | STARTTLS when the server offers it, else in clear; credentials refused unless the host is loopback |
//! | `smtp://127.0.0.1:2525?tls=none` | in clear: only to a loopback address (`127.0.0.0/8`, `::1`, `localhost`), or with `&insecure=1` |
//!
//! Certificates are checked against Mozilla's roots, or, with
//! [`SmtpOptions::tls_ca`], against that PEM file's certificates only (a
//! private CA). Credentials come from the URL (percent-encoded) or from
//! [`SmtpOptions::credentials`] (so that they need not be on a command
//! line), not both.
//!
//! Replies are classified as RFC 5321 says: 5xx is permanent
//! ([`SendError::Permanent`], the notice is marked failed), except the
//! authentication codes (530, 534, 535, 538), which are about our own
//! configuration and not the recipient; 4xx, connection, TLS and timeout
//! errors are temporary.
//!
//! At most [`SmtpOptions::per_domain_per_minute`] messages per minute go
//! to one recipient domain: sends to a domain are spaced evenly
//! (60 s / N apart), the run sleeping when it must wait, never dropping.

use super::{SendError, Transport};
use lettre::Transport as _;
use lettre::address::{Address, Envelope};
use lettre::transport::smtp::SmtpTransport;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use std::collections::HashMap;
use std::io::Read;
use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{Duration, Instant};

/// The largest CA file read: a bundle of a few hundred certificates.
const MAX_CA_FILE: u64 = 4 << 20;

/// The longest server answer kept as a notice's `via`.
const MAX_ANSWER: usize = 512;

/// Past this many domains, those free to send again are forgotten.
const MAX_DOMAINS_KEPT: usize = 4096;

/// How [`Smtp`] connects and sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpOptions {
    /// The envelope sender (`MAIL FROM`), a bare address; bounces go
    /// there.
    pub from: String,
    /// At most this many messages a minute to one recipient domain
    /// (0: no limit).
    pub per_domain_per_minute: u32,
    /// Connecting, and waiting for each reply (not zero).
    pub timeout: Duration,
    /// A PEM file of the only CA certificates to trust (a private CA).
    pub tls_ca: Option<PathBuf>,
    /// User and password, when not in the URL.
    pub credentials: Option<(String, String)>,
}

impl Default for SmtpOptions {
    fn default() -> SmtpOptions {
        SmtpOptions {
            from: String::new(),
            per_domain_per_minute: 0,
            timeout: Duration::from_secs(60),
            tls_ca: None,
            credentials: None,
        }
    }
}

/// Why an SMTP transport could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SmtpError {
    /// The URL is malformed or asks for something unsafe.
    #[error("SMTP URL {url}: {reason}")]
    Url {
        /// The URL, its password hidden.
        url: String,
        /// Why.
        reason: String,
    },
    /// Another option is wrong.
    #[error("SMTP: {0}")]
    Option(String),
    /// The CA file cannot be read or holds no certificate.
    #[error("{}: {reason}", path.display())]
    Ca {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// TLS cannot be set up for the host.
    #[error("SMTP TLS for {host}: {reason}")]
    Tls {
        /// The relay.
        host: String,
        /// Why.
        reason: String,
    },
}

/// An SMTP relay (see the module documentation).
pub struct Smtp {
    transport: SmtpTransport,
    name: String,
    from: Address,
    limit: RateLimit,
}

impl std::fmt::Debug for Smtp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Smtp").field("name", &self.name).finish()
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Required,
    Opportunistic,
    None,
    Wrapper,
}

impl Smtp {
    /// Sets up the transport for `url` (nothing is connected yet).
    pub fn new(url: &str, opts: SmtpOptions) -> Result<Smtp, SmtpError> {
        let target = parse_url(url)?;
        let from = Address::from_str(&opts.from)
            .map_err(|e| SmtpError::Option(format!("envelope sender {:?}: {e}", opts.from)))?;
        if opts.timeout.is_zero() {
            return Err(SmtpError::Option("the timeout must not be zero".into()));
        }
        let credentials = match (target.credentials.clone(), opts.credentials) {
            (Some(_), Some(_)) => {
                return Err(target.error("credentials both in the URL and in the options"));
            }
            (a, b) => a.or(b),
        };
        if credentials.is_some()
            && matches!(target.mode, Mode::Opportunistic | Mode::None)
            && !target.loopback
        {
            return Err(target
                .error("credentials would go in clear: use STARTTLS (the default) or smtps://"));
        }
        let tls = match target.mode {
            Mode::None => Tls::None,
            mode => {
                let params = tls_parameters(&target.host, opts.tls_ca.as_ref())?;
                match mode {
                    Mode::Required => Tls::Required(params),
                    Mode::Opportunistic => Tls::Opportunistic(params),
                    _ => Tls::Wrapper(params),
                }
            }
        };
        let mut builder = SmtpTransport::builder_dangerous(target.host.clone())
            .port(target.port)
            .tls(tls)
            .timeout(Some(opts.timeout));
        if let Some((user, pass)) = credentials {
            builder = builder.credentials(Credentials::new(user, pass));
        }
        let scheme = if target.mode == Mode::Wrapper {
            "smtps"
        } else {
            "smtp"
        };
        let host = match target.host.parse::<IpAddr>() {
            Ok(IpAddr::V6(a)) => format!("[{a}]"),
            _ => target.host.clone(),
        };
        Ok(Smtp {
            transport: builder.build(),
            name: format!("{scheme}://{host}:{}", target.port),
            from,
            limit: RateLimit::new(opts.per_domain_per_minute),
        })
    }
}

impl Transport for Smtp {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn send(&mut self, _id: &str, to: &str, message: &[u8]) -> Result<String, SendError> {
        let rcpt = Address::from_str(to)
            .map_err(|e| SendError::Permanent(format!("recipient {to:?}: {e}")))?;
        let envelope = Envelope::new(Some(self.from.clone()), vec![rcpt.clone()])
            .map_err(|e| SendError::Permanent(format!("envelope to {to:?}: {e}")))?;
        self.limit.wait(&rcpt.domain().to_ascii_lowercase());
        // lettre ends the data with CRLF "." CRLF, its own CRLF first: a
        // message's last line break is that one, or the server would
        // store one more empty line than was prepared.
        let data = message.strip_suffix(b"\r\n").unwrap_or(message);
        match self.transport.send_raw(&envelope, data) {
            Ok(reply) => {
                let text: Vec<&str> = reply.message().collect();
                Ok(clip(&format!("{} {}", reply.code(), text.join(" "))))
            }
            Err(e) => Err(classify(&e)),
        }
    }
}

/// 5xx is permanent except authentication (our configuration); all else
/// (4xx, network, TLS, timeouts, a server that does not offer STARTTLS)
/// is temporary.
fn classify(e: &lettre::transport::smtp::Error) -> SendError {
    let text = clip(&e.to_string());
    match e.status().map(|c| c.to_string()) {
        Some(code) if code.starts_with('5') && !matches!(&*code, "530" | "534" | "535" | "538") => {
            SendError::Permanent(text)
        }
        _ => SendError::Temporary(text),
    }
}

fn clip(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).collect();
    if s.len() <= MAX_ANSWER {
        return s;
    }
    let mut end = MAX_ANSWER;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

/// What a URL says.
#[derive(Debug)]
struct Target {
    /// The URL with its password hidden, for messages.
    shown: String,
    host: String,
    port: u16,
    mode: Mode,
    loopback: bool,
    credentials: Option<(String, String)>,
}

impl Target {
    fn error(&self, reason: &str) -> SmtpError {
        SmtpError::Url {
            url: self.shown.clone(),
            reason: reason.to_string(),
        }
    }
}

fn parse_url(raw: &str) -> Result<Target, SmtpError> {
    let mut url = url::Url::parse(raw).map_err(|e| SmtpError::Url {
        url: "(not shown: it may hold a password)".into(),
        reason: e.to_string(),
    })?;
    let credentials = (!url.username().is_empty()).then(|| {
        (
            percent_decode(url.username()),
            percent_decode(url.password().unwrap_or("")),
        )
    });
    if url.password().is_some() {
        let _ = url.set_password(Some("***"));
    }
    let shown = url.to_string();
    let bad = |reason: String| SmtpError::Url {
        url: shown.clone(),
        reason,
    };
    let wrapper = match url.scheme() {
        "smtp" => false,
        "smtps" => true,
        s => return Err(bad(format!("scheme {s:?}: smtp:// or smtps://"))),
    };
    let (host, loopback) = match url.host() {
        // smtp: is not a "special" scheme to the URL standard: its host
        // stays text, an IPv4 address included.
        Some(url::Host::Domain(d)) if !d.is_empty() => match d.parse::<IpAddr>() {
            Ok(a) => (a.to_string(), a.is_loopback()),
            Err(_)
                if d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-') =>
            {
                (d.to_string(), d.eq_ignore_ascii_case("localhost"))
            }
            Err(_) => {
                return Err(bad(format!(
                    "host {d:?}: letters, digits, '.' and '-' only (IDNA names as punycode)"
                )));
            }
        },
        Some(url::Host::Ipv4(a)) => (a.to_string(), a.is_loopback()),
        Some(url::Host::Ipv6(a)) => (a.to_string(), a.is_loopback()),
        _ => return Err(bad("no host".into())),
    };
    if !matches!(url.path(), "" | "/") || url.fragment().is_some() {
        return Err(bad("a relay URL has no path nor fragment".into()));
    }
    let mut tls = None;
    let mut insecure = false;
    for (k, v) in url.query_pairs() {
        match (&*k, &*v) {
            ("tls", "required" | "opportunistic" | "none") if tls.is_none() && !wrapper => {
                tls = Some(v.into_owned());
            }
            ("insecure", "1") => insecure = true,
            _ => {
                return Err(bad(format!(
                    "unknown or repeated parameter {k}={v} (smtp:// takes tls=required, \
                     tls=opportunistic or tls=none [&insecure=1]; smtps:// none)"
                )));
            }
        }
    }
    let mode = match (wrapper, tls.as_deref()) {
        (true, _) => Mode::Wrapper,
        (false, Some("opportunistic")) => Mode::Opportunistic,
        (false, Some("none")) => Mode::None,
        _ => Mode::Required,
    };
    if insecure && mode != Mode::None {
        return Err(bad("insecure=1 only goes with tls=none".into()));
    }
    if mode == Mode::None && !loopback && !insecure {
        return Err(bad(
            "tls=none sends in clear: only to a loopback address, or add insecure=1".into(),
        ));
    }
    Ok(Target {
        port: url.port().unwrap_or(if wrapper { 465 } else { 587 }),
        shown,
        host,
        mode,
        loopback,
        credentials,
    })
}

/// `%XX` escapes decoded (a user or password in a URL); an invalid
/// escape is kept as written, invalid UTF-8 replaced.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while let Some(&c) = b.get(i) {
        let hex = |k: usize| b.get(k).and_then(|&d| (d as char).to_digit(16));
        match (c, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The TLS parameters for `host`: Mozilla's roots, or only the CA file's.
fn tls_parameters(host: &str, ca: Option<&PathBuf>) -> Result<TlsParameters, SmtpError> {
    let tls_error = |e: lettre::transport::smtp::Error| SmtpError::Tls {
        host: host.to_string(),
        reason: e.to_string(),
    };
    let mut builder = TlsParameters::builder(host.to_string());
    if let Some(path) = ca {
        let ca_error = |reason: String| SmtpError::Ca {
            path: path.clone(),
            reason,
        };
        let mut pem = Vec::new();
        std::fs::File::open(path)
            .and_then(|f| f.take(MAX_CA_FILE + 1).read_to_end(&mut pem))
            .map_err(|e| ca_error(e.to_string()))?;
        if pem.len() as u64 > MAX_CA_FILE {
            return Err(ca_error(format!("larger than {MAX_CA_FILE} bytes")));
        }
        if !pem.windows(27).any(|w| w == b"-----BEGIN CERTIFICATE-----") {
            return Err(ca_error("no PEM certificate in it".into()));
        }
        let cert = Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
        builder = builder
            .certificate_store(CertificateStore::None)
            .add_root_certificate(cert);
    }
    builder.build_rustls().map_err(tls_error)
}

/// Evenly spaced sends per recipient domain.
struct RateLimit {
    gap: Option<Duration>,
    next: HashMap<String, Instant>,
}

impl RateLimit {
    fn new(per_minute: u32) -> RateLimit {
        RateLimit {
            gap: (per_minute > 0).then(|| Duration::from_secs(60) / per_minute),
            next: HashMap::new(),
        }
    }

    /// Sleeps until the domain may be sent to, and books the next slot.
    fn wait(&mut self, domain: &str) {
        let Some(gap) = self.gap else { return };
        let mut now = Instant::now();
        if let Some(&at) = self.next.get(domain)
            && at > now
        {
            std::thread::sleep(at - now);
            now = Instant::now().max(at);
        }
        if self.next.len() >= MAX_DOMAINS_KEPT {
            self.next.retain(|_, at| *at > now);
        }
        self.next.insert(domain.to_string(), now + gap);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        let t = parse_url("smtp://relay.example.org").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.mode),
            ("relay.example.org", 587, Mode::Required)
        );
        let t = parse_url("smtps://u%40x:p%2Bw+d@relay.example.org:2465").unwrap();
        assert_eq!((t.port, t.mode), (2465, Mode::Wrapper));
        assert_eq!(t.credentials, Some(("u@x".into(), "p+w+d".into())));
        assert!(
            t.shown.contains("***") && !t.shown.contains("p%2B"),
            "{}",
            t.shown
        );
        let t = parse_url("smtp://relay.example.org?tls=opportunistic").unwrap();
        assert_eq!(t.mode, Mode::Opportunistic);
        let t = parse_url("smtp://127.0.0.1:2525?tls=none").unwrap();
        assert_eq!((t.mode, t.loopback), (Mode::None, true));
        let t = parse_url("smtp://[::1]:2525?tls=none").unwrap();
        assert_eq!((t.host.as_str(), t.loopback), ("::1", true));
        let t = parse_url("smtp://relay.example.org:25?tls=none&insecure=1").unwrap();
        assert_eq!(t.mode, Mode::None);
    }

    #[test]
    fn unsafe_or_wrong_urls_are_refused() {
        for (url, why) in [
            ("smtp://relay.example.org?tls=none", "loopback"),
            ("smtp://192.0.2.1?tls=none", "loopback"),
            ("smtps://relay.example.org?tls=none", "unknown"),
            (
                "smtp://relay.example.org?tls=required&insecure=1",
                "insecure=1 only",
            ),
            ("smtp://relay.example.org?tsl=none", "unknown"),
            ("smtp://relay.example.org?tls=none&tls=required", "repeated"),
            ("http://relay.example.org", "scheme"),
            ("smtp://relay.example.org/path", "path"),
            ("smtp:relay", "no host"),
        ] {
            let err = parse_url(url).unwrap_err().to_string();
            assert!(err.contains(why), "{url}: {err}");
        }
        let err = parse_url("smtp://u:secret@[zz").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn credentials_never_in_clear_nor_twice() {
        let opts = || SmtpOptions {
            from: "cert@example.org".into(),
            ..SmtpOptions::default()
        };
        let err = Smtp::new("smtp://u:p@relay.example.org?tls=opportunistic", opts())
            .unwrap_err()
            .to_string();
        assert!(err.contains("in clear") && !err.contains(":p@"), "{err}");
        let mut o = opts();
        o.credentials = Some(("u".into(), "p".into()));
        let err = Smtp::new("smtp://v:q@relay.example.org", o)
            .unwrap_err()
            .to_string();
        assert!(err.contains("both"), "{err}");
        // Loopback in clear is the test setup.
        let mut o = opts();
        o.credentials = Some(("u".into(), "p".into()));
        Smtp::new("smtp://127.0.0.1:2525?tls=none", o).unwrap();
        let s = Smtp::new("smtps://relay.example.org", opts()).unwrap();
        assert_eq!(s.name(), "smtps://relay.example.org:465");
        let s = Smtp::new("smtp://[::1]:25?tls=none", opts()).unwrap();
        assert_eq!(s.name(), "smtp://[::1]:25");
        assert!(!s.idempotent());
    }

    #[test]
    fn options_are_checked() {
        let err = Smtp::new("smtp://relay.example.org", SmtpOptions::default())
            .unwrap_err()
            .to_string();
        assert!(err.contains("envelope sender"), "{err}");
        let o = SmtpOptions {
            from: "cert@example.org".into(),
            timeout: Duration::ZERO,
            ..SmtpOptions::default()
        };
        assert!(Smtp::new("smtp://relay.example.org", o).is_err());
        let dir = tempfile::tempdir().unwrap();
        let ca = dir.path().join("ca.pem");
        std::fs::write(&ca, "not a certificate").unwrap();
        let o = SmtpOptions {
            from: "cert@example.org".into(),
            tls_ca: Some(ca),
            ..SmtpOptions::default()
        };
        let err = Smtp::new("smtp://relay.example.org", o)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ca.pem") && err.contains("no PEM certificate"),
            "{err}"
        );
    }

    #[test]
    fn bad_recipients_are_permanent() {
        let mut s = Smtp::new(
            "smtp://127.0.0.1:9?tls=none",
            SmtpOptions {
                from: "cert@example.org".into(),
                ..SmtpOptions::default()
            },
        )
        .unwrap();
        for to in ["", "no-at-sign", "a@b\r\nRCPT TO:<x@y>"] {
            assert!(
                matches!(s.send("id", to, b"x"), Err(SendError::Permanent(_))),
                "{to:?}"
            );
        }
    }

    #[test]
    fn rate_limit_spaces_sends_per_domain() {
        // 1200 a minute: 50 ms apart per domain.
        let mut r = RateLimit::new(1200);
        let start = Instant::now();
        for _ in 0..4 {
            r.wait("a.example");
        }
        let a = start.elapsed();
        assert!(a >= Duration::from_millis(150), "{a:?}");
        let start = Instant::now();
        r.wait("b.example");
        assert!(start.elapsed() < Duration::from_millis(40));
        let mut none = RateLimit::new(0);
        let start = Instant::now();
        for _ in 0..1000 {
            none.wait("a.example");
        }
        assert!(start.elapsed() < Duration::from_millis(40));
    }
}
