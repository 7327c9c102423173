//! The web page: an upload form that works without JavaScript (a plain
//! multipart form post answered with a server-rendered verdict page), and
//! with it, drag-and-drop and an answer shown in place. Everything is
//! embedded in the binary and served under a Content-Security-Policy that
//! allows nothing but this origin's own script and style: no inline code,
//! no external scripts, fonts or CDNs.

use crate::http::{ApiError, FileAnswer, ScanAnswer, Verdict, decorate};
use crate::service::Service;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::fmt::Write;
use std::sync::Arc;
use std::time::Instant;

/// The Content-Security-Policy of every answer.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const INDEX: &str = include_str!("../web/index.html");
const SCRIPT: &str = include_str!("../web/app.js");
const STYLE: &str = include_str!("../web/style.css");

fn html(status: StatusCode, body: String) -> Response {
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
pub async fn index(State(app): State<Arc<Service>>) -> Response {
    html(StatusCode::OK, page(&app, ""))
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
    match crate::http::receive_and_scan(&app, req, None, true, started).await {
        Ok(answer) => {
            app.metrics.request("http", "form", "200");
            html(StatusCode::OK, page(&app, &render_answer(&answer)))
        }
        Err(e) => {
            app.metrics.request("http", "form", &e.status_label());
            html(e.status, page(&app, &render_error(&e)))
        }
    }
}

/// The page, with `result` (already escaped HTML) in its result area.
fn page(app: &Service, result: &str) -> String {
    let token = if app.settings.tokens_required {
        r#"<label for="token">Token</label> <input id="token" name="token" type="password" autocomplete="off" required>"#
    } else {
        ""
    };
    INDEX
        .replace("<!--TOKEN-->", token)
        .replace("<!--RESULT-->", result)
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

/// The verdict as HTML; the script builds the same structure from JSON.
pub fn render_answer(a: &ScanAnswer) -> String {
    let v = verdict_word(a.verdict);
    let mut out = format!(
        r#"<section id="result"><p id="verdict" class="verdict {v}" data-verdict="{v}">{v}</p><ul class="files">"#
    );
    for f in &a.files {
        render_file(&mut out, f);
    }
    out.push_str("</ul></section>");
    out
}

fn render_file(out: &mut String, f: &FileAnswer) {
    let v = verdict_word(f.verdict);
    let _ = write!(
        out,
        r#"<li class="file {v}"><p><span class="name">{}</span> <span class="file-verdict">{v}</span></p><p class="meta">{} bytes, SHA-256 <code class="sha256">{}</code></p>"#,
        escape(&f.name),
        f.size,
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
                r#"<li class="detection"><span class="det-name">{}</span> <span class="chain">{chain}</span> <span class="det-meta">{}, score {}, {}</span>"#,
                escape(&d.name),
                d.engine.as_str(),
                d.score,
                escape(&d.source)
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
        assert!(
            !SCRIPT.contains("innerHTML"),
            "build nodes, never parse HTML"
        );
    }
}
