//! Notices as RFC 5322 messages, built with lettre's message builder.
//!
//! A message is `multipart/mixed`: the text from the language's
//! template (`text/plain; charset=utf-8`, quoted-printable), the rows as
//! `events.csv` and one `xarf-<n>.json` X-ARF v4 report per row (both
//! base64). Everything that could vary between two renderings of the
//! same notice is fixed: the `Date` is the caller's, the `Message-ID` is
//! `<id@domain-of-From>` and the MIME boundary is derived from the id,
//! so a notice rendered again after a crash is the same bytes.
//!
//! The boundary `=_takedown_<id>` cannot occur inside a part: the text is
//! quoted-printable (which writes every `=` as `=3D`) and the
//! attachments are base64 (which has no `_`).

use super::template::{Sender, Templates, clean_subject};
use super::xarf::Reporter;
use super::{Notice, Row, TemplateError, csv, xarf};
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Attachment, Body, Mailbox, MultiPart, SinglePart};
use lettre::{Address, Message};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// The latest `Date` written: 9999-12-31T23:59:59Z (the mail date
/// format has four-digit years).
const MAX_DATE: i64 = 253_402_300_799;

/// How notices are written.
#[derive(Clone, Debug, Default)]
pub struct RenderOptions {
    /// The language: `en`, `ja`, `de` (or any other with a template in
    /// [`RenderOptions::templates`]), or `auto`: by the rows' countries
    /// (JP Japanese; DE, AT, CH, LI German; else English), the language
    /// of most rows winning.
    pub lang: String,
    /// A directory of `<lang>.txt` templates that replace the built-in
    /// ones (and may add languages).
    pub templates: Option<PathBuf>,
    /// The `From` header (`CERT Example <cert@example.org>`); its domain
    /// is the `Message-ID`'s.
    pub from: String,
    /// The `Reply-To` header, if any.
    pub reply_to: Option<String>,
    /// The reporting organisation (the signature, X-ARF `reporter.org`).
    pub org: String,
    /// The reporter's contact address (X-ARF `reporter.contact`; its
    /// domain is `reporter.domain`).
    pub contact: String,
    /// The online scan, pointed to in the body.
    pub scan_url: Option<String>,
    /// The self-check page, pointed to in the body.
    pub check_url: Option<String>,
}

/// A notice that could not be rendered.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The template failed on this notice.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// The notice's address is not one a message can be sent to.
    #[error("notice {id}: recipient {to:?}: {reason}")]
    Recipient {
        /// The notice.
        id: String,
        /// The address.
        to: String,
        /// Why.
        reason: String,
    },
    /// The notice's id is not the hex digest a notice id is.
    #[error("notice id {0:?} is not 1 to 64 lower-case hex digits")]
    Id(String),
    /// The message could not be built.
    #[error("notice {id}: {reason}")]
    Message {
        /// The notice.
        id: String,
        /// Why.
        reason: String,
    },
}

/// Renders notices: the templates compiled once, the options checked
/// once.
pub struct Renderer {
    opts: RenderOptions,
    templates: Templates,
    from: Mailbox,
    reply_to: Option<Mailbox>,
    /// The domain of `From`, for Message-IDs.
    id_domain: String,
    /// The domain of the reporter's contact, for X-ARF.
    contact_domain: String,
}

impl Renderer {
    /// Compiles the templates (each tried on sample notices: a bad one is
    /// an error naming its file and line) and checks the options: `from`,
    /// `reply_to` and `contact` must be mail addresses, the contact's
    /// domain a host name, `lang` `auto` or a language with a template,
    /// and the URLs free of white space and control characters.
    pub fn new(opts: RenderOptions) -> Result<Renderer, TemplateError> {
        let templates = Templates::load(opts.templates.as_deref())?;
        let bad = |option: &'static str, reason: String| TemplateError::Option { option, reason };
        let from: Mailbox = opts
            .from
            .parse()
            .map_err(|e| bad("from", format!("{:?}: {e}", opts.from)))?;
        let reply_to = match &opts.reply_to {
            Some(r) => Some(
                r.parse::<Mailbox>()
                    .map_err(|e| bad("reply-to", format!("{r:?}: {e}")))?,
            ),
            None => None,
        };
        let contact: Address = opts
            .contact
            .parse()
            .map_err(|e| bad("contact", format!("{:?}: {e}", opts.contact)))?;
        let contact_domain = contact.domain().to_ascii_lowercase();
        if !is_hostname(&contact_domain) {
            return Err(bad(
                "contact",
                format!("{:?}: the domain is not a host name", opts.contact),
            ));
        }
        if opts.lang != "auto" && !templates.has(&opts.lang) {
            return Err(bad(
                "lang",
                format!(
                    "no template for {:?} (auto, {})",
                    opts.lang,
                    templates.languages().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
        for (name, url) in [("scan-url", &opts.scan_url), ("check-url", &opts.check_url)] {
            if let Some(u) = url
                && (u.is_empty() || u.chars().any(|c| c.is_whitespace() || c.is_control()))
            {
                return Err(bad(name, format!("{u:?}: not a URL")));
            }
        }
        if opts.org.chars().any(char::is_control) {
            return Err(bad("org", format!("{:?}: control characters", opts.org)));
        }
        let id_domain = from.email.domain().to_ascii_lowercase();
        Ok(Renderer {
            opts,
            templates,
            from,
            reply_to,
            id_domain,
            contact_domain,
        })
    }

    fn sender(&self) -> Sender<'_> {
        Sender {
            org: &self.opts.org,
            scan_url: self.opts.scan_url.as_deref(),
            check_url: self.opts.check_url.as_deref(),
        }
    }

    /// The language of a notice: the option's, or with `auto` the one
    /// most of its rows' countries speak (ties: English, then German,
    /// then Japanese).
    pub fn language(&self, n: &Notice) -> &str {
        if self.opts.lang != "auto" {
            return &self.opts.lang;
        }
        let mut votes: HashMap<&str, usize> = HashMap::new();
        for r in &n.rows {
            let lang = match r.country.as_deref().map(str::to_ascii_uppercase).as_deref() {
                Some("JP") => "ja",
                Some("DE" | "AT" | "CH" | "LI") => "de",
                _ => "en",
            };
            *votes.entry(lang).or_default() += 1;
        }
        let count = |l: &str| votes.get(l).copied().unwrap_or(0);
        let mut best = "en";
        for l in ["de", "ja"] {
            if count(l) > count(best) {
                best = l;
            }
        }
        if self.templates.has(best) { best } else { "en" }
    }

    /// The RFC 5322 message (CRLF lines): the text from the template, a
    /// CSV attachment of the rows, one X-ARF v4 JSON attachment per row.
    /// Deterministic for the same notice and `date` (unix seconds,
    /// clamped to years 1970 to 9999): Message-ID `<id@from-domain>`,
    /// the MIME boundary derived from the id.
    pub fn message(&self, n: &Notice, date: i64) -> Result<Vec<u8>, RenderError> {
        if n.id.is_empty()
            || n.id.len() > 64
            || !n
                .id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(RenderError::Id(n.id.escape_debug().to_string()));
        }
        let lang = self.language(n);
        let (subject, body) = self.templates.render(lang, n, &self.sender())?;
        let to: Address = n.to.parse().map_err(|e| RenderError::Recipient {
            id: n.id.clone(),
            to: n.to.escape_debug().to_string(),
            reason: format!("{e}"),
        })?;
        let failed = |reason: String| RenderError::Message {
            id: n.id.clone(),
            reason,
        };
        let text = Body::new_with_encoding(body, ContentTransferEncoding::QuotedPrintable)
            .map_err(|_| failed("the text cannot be encoded".into()))?;
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .header(ContentLanguage(lang.to_string()))
            .body(text);
        let csv_type = ContentType::parse("text/csv; charset=utf-8")
            .map_err(|e| failed(format!("content type: {e}")))?;
        let json_type = ContentType::parse("application/json")
            .map_err(|e| failed(format!("content type: {e}")))?;
        let mut parts = MultiPart::mixed()
            .boundary(format!("=_takedown_{}", n.id))
            .singlepart(text)
            .singlepart(Attachment::new("events.csv".into()).body(csv::write(n), csv_type));
        for (i, row) in n.rows.iter().enumerate() {
            let json = serde_json::to_vec_pretty(&self.xarf(n, row))
                .map_err(|e| failed(format!("X-ARF: {e}")))?;
            parts = parts.singlepart(
                Attachment::new(format!("xarf-{}.json", i + 1)).body(json, json_type.clone()),
            );
        }
        let secs = date.clamp(0, MAX_DATE).unsigned_abs();
        let mut b = Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(None, to))
            .subject(subject)
            .date(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
            .message_id(Some(format!("<{}@{}>", n.id, self.id_domain)))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Takedown-Notice"),
                n.id.clone(),
            ));
        if let Some(r) = &self.reply_to {
            b = b.reply_to(r.clone());
        }
        let m = b.multipart(parts).map_err(|e| failed(format!("{e}")))?;
        Ok(m.formatted())
    }

    /// The `events.csv` attachment: a header row, then one line per row
    /// (RFC 4180, CRLF; cells that a spreadsheet would take for a
    /// formula start with `'`).
    pub fn csv(&self, n: &Notice) -> Vec<u8> {
        csv::write(n)
    }

    /// The X-ARF v4 report of a row (`infrastructure` / `botnet`; see
    /// the module `xarf` for why).
    pub fn xarf(&self, n: &Notice, row: &Row) -> serde_json::Value {
        xarf::report(
            n,
            row,
            &Reporter {
                org: &self.opts.org,
                contact: &self.opts.contact,
                domain: &self.contact_domain,
            },
        )
    }

    /// The subject of a notice: one line, without control characters.
    /// Should the template fail on this notice (it was tried on samples
    /// when the renderer was built), a fixed English subject.
    pub fn subject(&self, n: &Notice) -> String {
        match self.templates.render(self.language(n), n, &self.sender()) {
            Ok((s, _)) => s,
            Err(_) => clean_subject(&format!(
                "Infected machines in your network ({}), notice {}",
                n.period, n.id
            )),
        }
    }
}

/// A host name: dot-separated labels of ASCII letters, digits and `-`.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// `Content-Language` of the text part (RFC 3282).
#[derive(Clone)]
struct ContentLanguage(String);

impl lettre::message::header::Header for ContentLanguage {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("Content-Language")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ContentLanguage(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}
