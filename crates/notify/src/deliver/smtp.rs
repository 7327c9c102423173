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
//! private CA).
//!
//! Credentials: the user and the password each come from the URL
//! (percent-encoded) or from [`SmtpOptions::credentials`] (so that the
//! password need not be on a command line): `smtp://user@host` with
//! the options' password (their user empty, or the same), or a URL
//! without user and both from the options. A password in the URL and
//! credentials in the options is refused (which one is meant?), and so
//! is a user without a password or a password without a user.
//!
//! The session is driven step by step (lettre's connection, not its
//! one-call transport), because what a failure means depends on when it
//! happens. Before the message itself went (connecting, TLS, EHLO, AUTH,
//! MAIL, RCPT, DATA), the server cannot have it: any failure is a refusal
//! ([`SendError::Temporary`] or [`SendError::Permanent`]). After it, a
//! reply code is still a refusal, but a timeout or a lost connection
//! while waiting for the reply to the final "." is
//! [`SendError::Unconfirmed`]: the server may have queued it (RFC 5321
//! 4.5.3.2 lets it take up to 10 minutes to answer, hence the default
//! [`SmtpOptions::timeout`]), so it is not resent.
//!
//! Reply codes are classified as RFC 5321 says: 5xx is permanent
//! ([`SendError::Permanent`], the notice is marked failed), except the
//! authentication codes (530, 534, 535, 538), which are about our own
//! configuration and not the recipient; 4xx is temporary.
//!
//! At most [`SmtpOptions::per_domain_per_minute`] messages per minute go
//! to one recipient domain: sends to a domain are spaced evenly
//! (60 s / N apart), [`Transport::ready`] sleeping when it must wait
//! (before the notice is marked Sending), never dropping.

use super::{SendError, Transport};
use lettre::address::Address;
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::{
    Certificate, CertificateStore, SmtpConnection, Tls, TlsParameters,
};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
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

/// The default [`SmtpOptions::timeout`]: RFC 5321 4.5.3.2 gives a server
/// up to 10 minutes to answer the final "." of a message; giving up
/// sooner leaves messages in doubt that a patient client would have had
/// confirmed.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(600);

/// The wait for the reply to QUIT once the message is accepted (nothing
/// depends on it any more).
const QUIT_TIMEOUT: Duration = Duration::from_secs(10);

/// How [`Smtp`] connects and sends.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpOptions {
    /// The envelope sender (`MAIL FROM`), a bare address; bounces go
    /// there.
    pub from: String,
    /// At most this many messages a minute to one recipient domain
    /// (0: no limit).
    pub per_domain_per_minute: u32,
    /// Connecting, and waiting for each reply (not zero; by default 10
    /// minutes, what RFC 5321 4.5.3.2 gives a server to answer the final
    /// "."). A timeout after the message went
    /// leaves it unconfirmed ([`SendError::Unconfirmed`]).
    pub timeout: Duration,
    /// A PEM file of the only CA certificates to trust (a private CA).
    pub tls_ca: Option<PathBuf>,
    /// User and password, or the part of them not in the URL (see the
    /// module documentation): `("", password)` with a URL that names the
    /// user.
    pub credentials: Option<(String, String)>,
}

impl Default for SmtpOptions {
    fn default() -> SmtpOptions {
        SmtpOptions {
            from: String::new(),
            per_domain_per_minute: 0,
            timeout: DEFAULT_TIMEOUT,
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
    host: String,
    port: u16,
    tls: Tls,
    credentials: Option<Credentials>,
    timeout: Duration,
    hello: ClientId,
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
        let credentials = credentials(&target, opts.credentials)?;
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
            name: format!("{scheme}://{host}:{}", target.port),
            host: target.host,
            port: target.port,
            tls,
            credentials: credentials.map(|(u, p)| Credentials::new(u, p)),
            timeout: opts.timeout,
            // The host name for EHLO (looked up once, not per message).
            hello: ClientId::default(),
            from,
            limit: RateLimit::new(opts.per_domain_per_minute),
        })
    }

    /// One SMTP session for one message, each failure classified by the
    /// step it happened at (see the module documentation).
    fn session(&self, rcpt: &Address, data: &[u8]) -> Result<Response, SendError> {
        let refused = |e: lettre::transport::smtp::Error| classify(&e);
        let wrapper = match &self.tls {
            Tls::Wrapper(p) => Some(p),
            _ => None,
        };
        let mut conn = SmtpConnection::connect(
            (self.host.as_str(), self.port),
            Some(self.timeout),
            &self.hello,
            wrapper,
            None,
        )
        .map_err(refused)?;
        match &self.tls {
            Tls::Required(p) => conn.starttls(p, &self.hello).map_err(refused)?,
            Tls::Opportunistic(p) if conn.can_starttls() => {
                conn.starttls(p, &self.hello).map_err(refused)?;
            }
            _ => {}
        }
        if let Some(c) = &self.credentials {
            conn.auth(DEFAULT_MECHANISMS, c).map_err(refused)?;
        }
        let mut params = Vec::new();
        if !(self.from.to_string().is_ascii() && rcpt.to_string().is_ascii()) {
            if !conn.server_info().supports_feature(Extension::SmtpUtfEight) {
                return Err(SendError::Temporary(
                    "a non-ASCII address, and the server does not offer SMTPUTF8".into(),
                ));
            }
            params.push(MailParameter::SmtpUtfEight);
        }
        if !data.is_ascii() {
            if !conn.server_info().supports_feature(Extension::EightBitMime) {
                return Err(SendError::Temporary(
                    "a message with 8-bit bytes, and the server does not offer 8BITMIME".into(),
                ));
            }
            params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
        }
        conn.command(Mail::new(Some(self.from.clone()), params))
            .map_err(refused)?;
        conn.command(Rcpt::new(rcpt.clone(), Vec::new()))
            .map_err(refused)?;
        conn.command(Data).map_err(refused)?;
        // From here the server may have the message: only a reply code
        // says it does not.
        let reply = conn.message(data).map_err(|e| {
            if e.status().is_some() {
                classify(&e)
            } else {
                SendError::Unconfirmed(clip(&format!(
                    "no reply to the end of the message (the server may have \
                     accepted it; not resent): {e}"
                )))
            }
        })?;
        // Accepted: QUIT politely, briefly, whatever comes of it.
        let _ = conn.set_timeout(Some(QUIT_TIMEOUT.min(self.timeout)));
        conn.abort();
        Ok(reply)
    }
}

/// The credentials to log in with, from the URL's and the options'
/// parts (see the module documentation).
fn credentials(
    target: &Target,
    opts: Option<(String, String)>,
) -> Result<Option<(String, String)>, SmtpError> {
    if opts.is_some() && target.password.is_some() {
        return Err(target.error("credentials both in the URL and in the options"));
    }
    let given = opts.is_some();
    let (opt_user, opt_pass) = match opts {
        Some((u, p)) => ((!u.is_empty()).then_some(u), (!p.is_empty()).then_some(p)),
        None => (None, None),
    };
    let user = match (target.user.clone(), opt_user) {
        (Some(a), Some(b)) if a != b => {
            return Err(target.error(&format!(
                "the URL's user {a:?} and the options' user {b:?} differ"
            )));
        }
        (a, b) => a.or(b),
    };
    match (user, target.password.clone().or(opt_pass)) {
        (Some(u), Some(p)) => Ok(Some((u, p))),
        (Some(u), None) => Err(target.error(&format!(
            "user {u:?} but no password (give it with the credentials options, not on a \
             command line)"
        ))),
        (None, Some(_)) => Err(target.error("a password but no user (in the URL or the options)")),
        (None, None) if given => Err(target.error("credentials with an empty user and password")),
        (None, None) => Ok(None),
    }
}

impl Transport for Smtp {
    fn name(&self) -> String {
        self.name.clone()
    }

    /// Waits for the recipient domain's rate limit (nothing for an
    /// address that does not parse: `send` refuses it).
    fn ready(&mut self, to: &str) {
        if let Ok(rcpt) = Address::from_str(to) {
            self.limit.wait(&rcpt.domain().to_ascii_lowercase());
        }
    }

    fn send(&mut self, _id: &str, to: &str, message: &[u8]) -> Result<String, SendError> {
        let rcpt = Address::from_str(to)
            .map_err(|e| SendError::Permanent(format!("recipient {to:?}: {e}")))?;
        // lettre ends the data with CRLF "." CRLF, its own CRLF first: a
        // message's last line break is that one, or the server would
        // store one more empty line than was prepared.
        let data = message.strip_suffix(b"\r\n").unwrap_or(message);
        let reply = self.session(&rcpt, data)?;
        let text: Vec<&str> = reply.message().collect();
        Ok(clip(&format!("{} {}", reply.code(), text.join(" "))))
    }
}

/// A failure before the message went (or a reply code after): 5xx is
/// permanent except authentication (our configuration); all else (4xx,
/// no connection, TLS, timeouts, a server that does not offer STARTTLS)
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
    /// The URL's user and password, decoded (`None` when empty).
    user: Option<String>,
    password: Option<String>,
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
    let user = Some(percent_decode(url.username())).filter(|u| !u.is_empty());
    let password = url.password().map(percent_decode).filter(|p| !p.is_empty());
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
        user,
        password,
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
        assert_eq!(
            (t.user.as_deref(), t.password.as_deref()),
            (Some("u@x"), Some("p+w+d"))
        );
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

    /// The URL's user with the options' password, or both from the
    /// options; never a part missing, never a password twice.
    #[test]
    fn credentials_combine_from_the_url_and_the_options() {
        let pair = |u: &str, p: &str| Some((u.to_string(), p.to_string()));
        let combine =
            |url: &str, opts: Option<(String, String)>| credentials(&parse_url(url).unwrap(), opts);
        let ok = [
            (
                "smtp://cert@relay.example.org",
                pair("", "pw"),
                pair("cert", "pw"),
            ),
            (
                "smtp://cert@relay.example.org",
                pair("cert", "pw"),
                pair("cert", "pw"),
            ),
            ("smtp://relay.example.org", pair("u", "pw"), pair("u", "pw")),
            (
                "smtp://u%40x:p%3A@relay.example.org",
                None,
                pair("u@x", "p:"),
            ),
            ("smtp://relay.example.org", None, None),
        ];
        for (url, opts, want) in ok {
            assert_eq!(combine(url, opts.clone()).unwrap(), want, "{url} {opts:?}");
        }
        let bad = [
            ("smtp://u:p@relay.example.org", pair("u", "q"), "both"),
            ("smtp://u:p@relay.example.org", pair("", "q"), "both"),
            ("smtp://:p@relay.example.org", pair("u", "q"), "both"),
            ("smtp://cert@relay.example.org", None, "no password"),
            ("smtp://cert@relay.example.org", pair("", ""), "no password"),
            (
                "smtp://cert@relay.example.org",
                pair("other", "pw"),
                "differ",
            ),
            ("smtp://relay.example.org", pair("u", ""), "no password"),
            ("smtp://relay.example.org", pair("", "pw"), "no user"),
            ("smtp://:pw@relay.example.org", None, "no user"),
            ("smtp://relay.example.org", pair("", ""), "empty"),
        ];
        for (url, opts, why) in bad {
            let err = combine(url, opts.clone()).unwrap_err().to_string();
            assert!(err.contains(why), "{url} {opts:?}: {err}");
            assert!(!err.contains("pw") && !err.contains(":p@"), "{err}");
        }
        // Through Smtp::new as well.
        let o = SmtpOptions {
            from: "cert@example.org".into(),
            credentials: pair("", "pw"),
            ..SmtpOptions::default()
        };
        Smtp::new("smtp://cert@relay.example.org", o).unwrap();
    }

    #[test]
    fn the_default_timeout_waits_for_a_slow_final_reply() {
        assert_eq!(SmtpOptions::default().timeout, Duration::from_secs(600));
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

    /// `send` never waits: the wait is `ready`'s, before the notice is
    /// marked Sending.
    #[test]
    fn the_rate_limit_is_waited_for_in_ready_not_in_send() {
        let mut s = Smtp::new(
            "smtp://127.0.0.1:9?tls=none",
            SmtpOptions {
                from: "cert@example.org".into(),
                per_domain_per_minute: 600,
                timeout: Duration::from_secs(2),
                ..SmtpOptions::default()
            },
        )
        .unwrap();
        let start = Instant::now();
        s.ready("a@example.net");
        s.ready("b@EXAMPLE.net");
        assert!(start.elapsed() >= Duration::from_millis(90));
        let start = Instant::now();
        for _ in 0..3 {
            // Nothing listens on port 9: refused, not waited for.
            assert!(matches!(
                s.send("id", "a@example.net", b"x\r\n"),
                Err(SendError::Temporary(_))
            ));
        }
        assert!(start.elapsed() < Duration::from_millis(90));
        // An address that does not parse is not waited for (send refuses it).
        s.ready("not an address");
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
