//! The web page: an upload form that works without JavaScript (a plain
//! multipart form post answered with a server-rendered verdict page), and
//! with it, drag-and-drop and an answer shown in place. Everything is
//! embedded in the binary and served under a Content-Security-Policy that
//! allows nothing but this origin's own script and style: no inline code,
//! no external scripts, fonts or CDNs.
//!
//! The pages speak the visitor's language ([`crate::i18n`]): the
//! templates hold `{{key}}` placeholders filled with escaped texts, and
//! the script's messages travel as `data-msg-*` attributes of the body
//! (the CSP allows no inline script to carry them).

use crate::http::{ApiError, FileAnswer, ScanAnswer, Verdict, decorate};
use crate::i18n::{self, Source, Texts};
use crate::service::Service;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;

/// The Content-Security-Policy of every answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub(crate) const INDEX: &str = include_str!("../web/index.html");
pub(crate) const CHECK: &str = include_str!("../web/check.html");
const SCRIPT: &str = include_str!("../web/app.js");
const STYLE: &str = include_str!("../web/style.css");

/// An HTML answer (with the headers its status calls for).
pub fn html(status: StatusCode, body: String) -> Response {
    let mut r = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        )],
        body,
    )
        .into_response();
    decorate(&mut r, status);
    r
}

/// `GET /`.
pub async fn index(State(app): State<Arc<Service>>, req: Request) -> Response {
    let (lang, source) = i18n::choose(req.uri().query(), req.headers());
    let texts = Texts {
        catalog: &app.i18n,
        lang,
    };
    localized(
        html(StatusCode::OK, page(&app, texts, source, "")),
        texts,
        source,
    )
}

fn localized(mut r: Response, texts: Texts<'_>, source: Source) -> Response {
    i18n::decorate(r.headers_mut(), texts.lang, source);
    r
}

/// `GET /static/app.js`.
pub async fn script() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/javascript; charset=utf-8"),
        )],
        SCRIPT,
    )
        .into_response()
}

/// `GET /static/style.css`.
pub async fn style() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/css; charset=utf-8"),
        )],
        STYLE,
    )
        .into_response()
}

/// `POST /`: the form post of a browser without JavaScript.
pub async fn form_scan(State(app): State<Arc<Service>>, req: Request) -> Response {
    let started = Instant::now();
    let (lang, source) = i18n::choose(req.uri().query(), req.headers());
    let texts = Texts {
        catalog: &app.i18n,
        lang,
    };
    let r = match crate::http::receive_and_scan(&app, req, None, true, started).await {
        Ok(answer) => {
            app.metrics.request("http", "form", "200");
            html(
                StatusCode::OK,
                page(&app, texts, source, &render_answer(&answer, texts)),
            )
        }
        Err(e) => {
            app.metrics.request("http", "form", &e.status_label());
            html(e.status, page(&app, texts, source, &render_error(&e)))
        }
    };
    localized(r, texts, source)
}

/// The language of links and forms: carried in the URL only when the
/// visitor chose it with the switch (a browser without cookies keeps it).
fn lang_param(texts: Texts<'_>, source: Source) -> String {
    match source {
        Source::Query => format!("?lang={}", texts.lang.code()),
        _ => String::new(),
    }
}

/// The scan page, with `result` (already escaped HTML) in its result
/// area.
fn page(app: &Service, texts: Texts<'_>, source: Source, result: &str) -> String {
    let token = if app.settings.tokens_required {
        format!(
            r#"<label for="token">{}</label> <input id="token" name="token" type="password" autocomplete="off" required>"#,
            texts.html("scan.token")
        )
    } else {
        String::new()
    };
    let check_link = if app.selfcheck.is_some() {
        format!(
            r#"<p class="check-link"><a id="check-link" href="/check{}">{}</a></p>"#,
            lang_param(texts, source),
            texts.html("scan.check_link")
        )
    } else {
        String::new()
    };
    i18n::render_template(
        INDEX,
        texts,
        &[
            ("lang", texts.lang.code().to_string()),
            ("switch", i18n::switch(texts, "/")),
            ("token", token),
            ("check_link", check_link),
            ("form_action", format!("/{}", lang_param(texts, source))),
            ("result", result.to_string()),
        ],
    )
}

/// The self-check page, with `result` (already escaped HTML).
pub fn check_page(texts: Texts<'_>, source: Source, result: &str) -> String {
    i18n::render_template(
        CHECK,
        texts,
        &[
            ("lang", texts.lang.code().to_string()),
            ("switch", i18n::switch(texts, "/check")),
            ("scan_href", format!("/{}", lang_param(texts, source))),
            ("result", result.to_string()),
        ],
    )
}

/// Escapes text for HTML content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn verdict_key(v: Verdict) -> &'static str {
    match v {
        Verdict::Clean => "scan.verdict_clean",
        Verdict::Infected => "scan.verdict_infected",
        Verdict::Error => "scan.verdict_error",
    }
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Clean => "clean",
        Verdict::Infected => "infected",
        Verdict::Error => "error",
    }
}

fn render_error(e: &ApiError) -> String {
    format!(
        r#"<section id="result"><p id="verdict" class="verdict error" data-verdict="error">{}</p><p id="message">{}</p></section>"#,
        e.status.as_u16(),
        escape(&e.message)
    )
}

/// The verdict as HTML in the page's language (the `data-verdict` and
/// class names stay English, for scripts and styles); the script builds
/// the same structure from JSON.
pub fn render_answer(a: &ScanAnswer, texts: Texts<'_>) -> String {
    let v = verdict_word(a.verdict);
    let mut out = format!(
        r#"<section id="result"><p id="verdict" class="verdict {v}" data-verdict="{v}">{}</p><ul class="files">"#,
        texts.html(verdict_key(a.verdict))
    );
    for f in &a.files {
        render_file(&mut out, f, texts);
    }
    out.push_str("</ul></section>");
    out
}

fn render_file(out: &mut String, f: &FileAnswer, texts: Texts<'_>) {
    let v = verdict_word(f.verdict);
    let _ = write!(
        out,
        r#"<li class="file {v}"><p><span class="name">{}</span> <span class="file-verdict">{}</span></p><p class="meta">{} <code class="sha256">{}</code></p>"#,
        escape(&f.name),
        texts.html(verdict_key(f.verdict)),
        texts.fill("scan.file_meta", &[("size", &f.size.to_string())]),
        escape(&f.sha256)
    );
    out.push_str(r#"<ul class="detections">"#);
    for finding in &f.findings {
        let mut chain = escape(&f.name);
        for c in &finding.chain {
            chain.push_str(" ! ");
            chain.push_str(&escape(c));
        }
        for d in &finding.detections {
            let _ = write!(
                out,
                r#"<li class="detection"><span class="det-name">{}</span> <span class="chain">{chain}</span> <span class="det-meta">{}</span>"#,
                escape(&d.name),
                texts.fill(
                    "scan.detection_meta",
                    &[
                        ("engine", d.engine.as_str()),
                        ("score", &d.score.to_string()),
                        ("source", &d.source),
                    ]
                ),
            );
            if let Some(sha) = &finding.sha256 {
                let _ = write!(out, r#" <code class="det-sha256">{}</code>"#, escape(sha));
            }
            out.push_str("</li>");
        }
        for p in &finding.problems {
            let _ = write!(
                out,
                r#"<li class="problem"><span class="chain">{chain}</span> {}</li>"#,
                escape(&p.message)
            );
        }
    }
    out.push_str("</ul></li>");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_attributes() {
        assert_eq!(
            escape(r#"<img src=x onerror="a('b')">&"#),
            "&lt;img src=x onerror=&quot;a(&#39;b&#39;)&quot;&gt;&amp;"
        );
    }

    #[test]
    fn page_has_no_external_or_inline_code() {
        assert!(!INDEX.contains("http://") && !INDEX.contains("https://"));
        assert!(!INDEX.contains("<script>"), "inline scripts break the CSP");
        assert!(!INDEX.contains("style="), "inline styles break the CSP");
        assert!(INDEX.contains(r#"enctype="multipart/form-data""#));
        for t in [INDEX, CHECK] {
            assert!(!t.contains("http://") && !t.contains("https://"));
            assert!(!t.contains("<script>") && !t.contains("style="));
        }
        assert!(!CHECK.contains("<script"), "the check page runs no script");
        assert!(
            !SCRIPT.contains("innerHTML"),
            "build nodes, never parse HTML"
        );
    }
}
