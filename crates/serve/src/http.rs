//! The HTTP API (`/v1/...`), the web page (`/`) and the operational
//! endpoints (`/healthz`, `/metrics`).
//!
//! A scan request is checked in this order, each step before any body byte
//! is read: token, declared length (413), admission (503). The body is
//! then streamed into a [`Spool`](crate::pool::Spool) under an idle
//! timeout per chunk and a deadline for the whole request (408), and the
//! complete upload goes to the worker pool. The answer is one JSON
//! document holding the same findings as `takedown scan --format json`.

use crate::pool::{Scanned, SpoolError, Upload};
use crate::service::{Admitted, Service};
use crate::web;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;
use takedown_engine::finding::{Finding, SCHEMA_VERSION};

/// The OpenAPI description of this API, served at `/v1/openapi.json`.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// Longest upload name kept (the name is only a label).
const MAX_NAME: usize = 1024;
/// Largest `token` form field read.
const MAX_TOKEN_FIELD: u64 = 1024;

type App = Arc<Service>;

/// The router of every HTTP endpoint.
pub fn router(service: Arc<Service>) -> Router {
    let taxii = match &service.taxii {
        Some(t) => crate::taxii::routes::router(&t.settings.prefix),
        None => Router::new(),
    };
    Router::new()
        .merge(taxii)
        .route("/", get(web::index).post(web::form_scan))
        .route("/static/app.js", get(web::script))
        .route("/static/style.css", get(web::style))
        .route("/check", get(crate::selfcheck::page))
        .route("/v1/check", get(crate::selfcheck::api))
        .route("/v1/scan", post(scan))
        .route("/v1/signatures", get(signatures))
        .route("/v1/reload", post(reload))
        .route("/v1/openapi.json", get(openapi))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        // Limits are ours (declared length, spool limit), per request.
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::map_response(security_headers))
        .with_state(service)
}

async fn security_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(web::CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

/// An error answer: status and message, as JSON (`{"error": ...}`) or,
/// for the web page, as HTML.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Why.
    pub message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    /// The status as the metrics label.
    pub fn status_label(&self) -> String {
        self.status.as_u16().to_string()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        decorate(&mut r, self.status);
        r
    }
}

/// Headers that go with some statuses.
pub fn decorate(r: &mut Response, status: StatusCode) {
    match status {
        StatusCode::SERVICE_UNAVAILABLE | StatusCode::TOO_MANY_REQUESTS => {
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        StatusCode::UNAUTHORIZED => {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"takedown\""),
            );
        }
        StatusCode::PAYLOAD_TOO_LARGE | StatusCode::REQUEST_TIMEOUT | StatusCode::BAD_REQUEST => {
            // The rest of the body was not read: the connection cannot
            // carry another request.
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        _ => {}
    }
}

/// What a token allows.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Scan and read.
    Scan,
    /// Reload too.
    Admin,
}

/// Checks a presented token for `role`. With tokens not required (every
/// listener on loopback and none configured), everyone has every role.
pub fn token_allows(service: &Service, token: Option<&str>, role: Role) -> Result<(), ApiError> {
    let s = &service.settings;
    if !s.tokens_required {
        return Ok(());
    }
    let Some(token) = token else {
        return Err(missing_token());
    };
    let matches = |list: &[String]| {
        // Check every token, whatever matches, so timing tells nothing.
        list.iter().fold(false, |hit, t| {
            hit | bool::from(t.as_bytes().ct_eq(token.as_bytes()))
        })
    };
    let admin = matches(&s.admin_tokens);
    let scan = matches(&s.tokens);
    match role {
        Role::Admin if admin => Ok(()),
        Role::Scan if admin || scan => Ok(()),
        Role::Admin if scan => Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "this endpoint needs an admin token",
        )),
        _ => Err(ApiError::new(StatusCode::UNAUTHORIZED, "invalid token")),
    }
}

fn missing_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "this endpoint needs a bearer token (Authorization: Bearer TOKEN)",
    )
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then_some(token.trim())
}

fn authorize(service: &Service, headers: &HeaderMap, role: Role) -> Result<(), ApiError> {
    token_allows(service, bearer(headers), role)
}

/// Verdict of an upload or of a whole request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    /// Nothing matched.
    Clean,
    /// Something matched, on the file or inside it.
    Infected,
    /// It could not be scanned.
    Error,
}

/// One scanned upload in a [`ScanAnswer`].
#[derive(Serialize)]
pub struct FileAnswer {
    /// The name the client gave (a label only).
    pub name: String,
    /// Bytes received.
    pub size: u64,
    /// SHA-256 of the bytes received.
    pub sha256: String,
    /// Its verdict.
    pub verdict: Verdict,
    /// Its notable findings, as `takedown scan --format json` prints them:
    /// the upload's own first, then those of objects inside it.
    pub findings: Vec<Finding>,
}

/// The answer to `POST /v1/scan`.
#[derive(Serialize)]
pub struct ScanAnswer {
    /// The finding schema version.
    pub version: u32,
    /// Infected if any file is, else error if any is, else clean.
    pub verdict: Verdict,
    /// One entry per uploaded file, in request order.
    pub files: Vec<FileAnswer>,
    /// Generation of the signature set that scanned them.
    pub signatures_generation: u64,
    /// Seconds from request to answer.
    pub elapsed_seconds: f64,
}

fn file_answer(name: String, s: Scanned) -> FileAnswer {
    let verdict = if s.detected() {
        Verdict::Infected
    } else if s.failed() {
        Verdict::Error
    } else {
        Verdict::Clean
    };
    let mut findings = Vec::with_capacity(1 + s.outcome.inner.len());
    if s.outcome.finding.is_notable() {
        findings.push(s.outcome.finding);
    }
    findings.extend(s.outcome.inner);
    FileAnswer {
        name,
        size: s.size,
        sha256: s.sha256,
        verdict,
        findings,
    }
}

#[derive(Deserialize)]
struct ScanQuery {
    name: Option<String>,
}

async fn scan(State(app): State<App>, Query(q): Query<ScanQuery>, req: Request) -> Response {
    let started = Instant::now();
    let result = receive_and_scan(&app, req, q.name, false, started).await;
    match result {
        Ok(answer) => {
            app.metrics.request("http", "scan", "200");
            Json(answer).into_response()
        }
        Err(e) => {
            app.metrics.request("http", "scan", &e.status_label());
            e.into_response()
        }
    }
}

/// Authorizes, admits, receives and scans one request (raw body or
/// multipart). `form` is the web page's form post: its `token` field may
/// stand in for the header.
pub async fn receive_and_scan(
    app: &App,
    req: Request,
    name: Option<String>,
    form: bool,
    started: Instant,
) -> Result<ScanAnswer, ApiError> {
    let header_auth = authorize(app, req.headers(), Role::Scan).map_err(|e| e.message);
    // Set by the accept loop; used only when sightings name clients.
    let client = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Err(message) = &header_auth
        && !form
    {
        return Err(ApiError::new(StatusCode::UNAUTHORIZED, message.clone()));
    }
    let limit = app.settings.max_upload;
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        // Multipart framing adds a little; allow for it.
        let allowed = limit.saturating_add(if is_multipart(req.headers()) {
            64 << 10
        } else {
            0
        });
        if len > allowed {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body of {len} bytes is over the upload limit of {limit} bytes"),
            ));
        }
    }
    let Some(admitted) = app.admit() else {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many scans in progress; retry shortly",
        ));
    };
    let deadline = started + app.settings.request_timeout;
    let uploads = if is_multipart(req.headers()) {
        receive_multipart(app, req, header_auth.is_ok(), deadline).await?
    } else {
        if let Err(message) = header_auth {
            return Err(ApiError::new(StatusCode::UNAUTHORIZED, message));
        }
        if form {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "the form must be sent as multipart/form-data",
            ));
        }
        let name = clean_name(name.as_deref().unwrap_or("upload"));
        vec![(name, receive_raw(app, req.into_body(), deadline).await?)]
    };
    if uploads.is_empty() {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "no file in the request (multipart parts need a filename)",
        ));
    }
    scan_uploads(app, uploads, admitted, started, client).await
}

async fn scan_uploads(
    app: &App,
    uploads: Vec<(String, Upload)>,
    admitted: Admitted,
    started: Instant,
    client: Option<std::net::IpAddr>,
) -> Result<ScanAnswer, ApiError> {
    // One generation for the whole request, taken when it was complete.
    let generation = app.generation();
    let generation_id = generation.id;
    let mut files = Vec::with_capacity(uploads.len());
    for (name, upload) in uploads {
        let (scan_clock, scan_started) = (std::time::SystemTime::now(), Instant::now());
        let scanned = app
            .pool
            .scan(generation.clone(), name.clone(), upload)
            .await
            .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e))?;
        app.record("http", &scanned, started.elapsed().as_secs_f64());
        app.publish(
            scanned.findings(),
            client,
            scan_clock,
            scan_started.elapsed(),
        );
        files.push(file_answer(name, scanned));
    }
    drop(admitted);
    let verdict = if files.iter().any(|f| f.verdict == Verdict::Infected) {
        Verdict::Infected
    } else if files.iter().any(|f| f.verdict == Verdict::Error) {
        Verdict::Error
    } else {
        Verdict::Clean
    };
    for f in &files {
        tracing::info!(
            name = %takedown_engine::sanitize::for_terminal(&f.name),
            size = f.size,
            sha256 = %f.sha256,
            verdict = ?f.verdict,
            "http scan"
        );
    }
    Ok(ScanAnswer {
        version: SCHEMA_VERSION,
        verdict,
        files,
        signatures_generation: generation_id,
        elapsed_seconds: started.elapsed().as_secs_f64(),
    })
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        })
}

/// Keeps a client-given name printable and short; it is only a label.
fn clean_name(name: &str) -> String {
    let mut out: String = name.chars().filter(|c| !c.is_control()).collect();
    if out.len() > MAX_NAME {
        let mut cut = MAX_NAME;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    if out.is_empty() { "upload".into() } else { out }
}

fn time_left(deadline: Instant, idle: Duration) -> Result<Duration, ApiError> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(timeout_error());
    }
    Ok(left.min(idle))
}

fn timeout_error() -> ApiError {
    ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "the request body was not received in time",
    )
}

fn spool_error(e: SpoolError) -> ApiError {
    match e {
        SpoolError::TooLarge(_) => ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, e.to_string()),
        SpoolError::Io(_) => {
            tracing::error!(error = %e, "cannot spool an upload");
            ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
        }
    }
}

async fn receive_raw(app: &App, mut body: Body, deadline: Instant) -> Result<Upload, ApiError> {
    let mut spool = app.spool(app.settings.max_upload);
    loop {
        let wait = time_left(deadline, app.settings.idle_timeout)?;
        let frame = match tokio::time::timeout(wait, body.frame()).await {
            Err(_) => return Err(timeout_error()),
            Ok(None) => break,
            Ok(Some(Err(e))) => {
                return Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the request body: {e}"),
                ));
            }
            Ok(Some(Ok(frame))) => frame,
        };
        if let Ok(data) = frame.into_data() {
            spool.push(&data).map_err(spool_error)?;
        }
    }
    spool.finish().map_err(spool_error)
}

async fn receive_multipart(
    app: &App,
    req: Request,
    mut authorized: bool,
    deadline: Instant,
) -> Result<Vec<(String, Upload)>, ApiError> {
    let idle = app.settings.idle_timeout;
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let mut uploads = Vec::new();
    let mut total: u64 = 0;
    let limit = app.settings.max_upload;
    loop {
        let wait = time_left(deadline, idle)?;
        let field = match tokio::time::timeout(wait, multipart.next_field()).await {
            Err(_) => return Err(timeout_error()),
            Ok(Err(e)) => return Err(multipart_error(e)),
            Ok(Ok(None)) => break,
            Ok(Ok(Some(f))) => f,
        };
        let file_name = field.file_name().map(str::to_string);
        let is_token = field.name() == Some("token") && file_name.is_none();
        if !authorized && !is_token && file_name.is_some() {
            // The form's token field comes before its files; a file
            // before any valid token is refused unread.
            return Err(missing_token());
        }
        let mut field = field;
        let room = limit.saturating_sub(total);
        let mut spool = app.spool(if is_token {
            room.min(MAX_TOKEN_FIELD)
        } else {
            room
        });
        loop {
            let wait = time_left(deadline, idle)?;
            match tokio::time::timeout(wait, field.chunk()).await {
                Err(_) => return Err(timeout_error()),
                Ok(Err(e)) => return Err(multipart_error(e)),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => spool.push(&chunk).map_err(|e| match e {
                    SpoolError::TooLarge(_) if is_token => {
                        ApiError::new(StatusCode::BAD_REQUEST, "the token field is too long")
                    }
                    SpoolError::TooLarge(_) => ApiError::new(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("the files are over the upload limit of {limit} bytes"),
                    ),
                    e => spool_error(e),
                })?,
            }
        }
        total = total.saturating_add(spool.len());
        if is_token {
            if !authorized {
                let Upload::Memory(bytes) = spool.finish().map_err(spool_error)? else {
                    return Err(ApiError::new(StatusCode::BAD_REQUEST, "bad token field"));
                };
                let token = String::from_utf8_lossy(&bytes);
                token_allows(app, Some(token.trim()), Role::Scan)?;
                authorized = true;
            }
            continue;
        }
        let Some(file_name) = file_name else {
            // Other form fields are ignored (but counted against the limit).
            continue;
        };
        if file_name.is_empty() && spool.is_empty() {
            // A file input left empty in a form.
            continue;
        }
        if uploads.len() >= app.settings.max_files {
            return Err(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("more than {} files in one request", app.settings.max_files),
            ));
        }
        uploads.push((clean_name(&file_name), spool.finish().map_err(spool_error)?));
    }
    if !authorized {
        return Err(missing_token());
    }
    Ok(uploads)
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    let status = e.status();
    let status = if status == StatusCode::PAYLOAD_TOO_LARGE {
        status
    } else {
        StatusCode::BAD_REQUEST
    };
    ApiError::new(
        status,
        format!("malformed multipart body: {}", e.body_text()),
    )
}

async fn signatures(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&app, &headers, Role::Scan) {
        app.metrics.request("http", "signatures", &e.status_label());
        return e.into_response();
    }
    app.metrics.request("http", "signatures", "200");
    let g = app.generation();
    Json(g.describe()).into_response()
}

async fn reload(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&app, &headers, Role::Admin) {
        app.metrics.request("http", "reload", &e.status_label());
        return e.into_response();
    }
    let sigs = app.reload().await;
    // The self-check reports are reloaded with the signatures (as on
    // SIGHUP); a failure keeps the loaded data and refuses the request.
    let selfcheck = app.reload_selfcheck().await;
    if let Some(Err(e)) = &selfcheck {
        app.metrics.request("http", "reload", "422");
        let g = app.generation();
        return (
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(serde_json::json!({
                "error": format!("self-check reload refused, the loaded reports stay: {e}"),
                "generation": g.id,
                "signatures_reloaded": sigs.is_ok(),
            })),
        )
            .into_response();
    }
    match sigs {
        Ok(g) => {
            app.metrics.request("http", "reload", "200");
            let mut v = serde_json::to_value(g.describe()).unwrap_or_default();
            if let (Some(Ok(d)), Some(obj)) = (&selfcheck, v.as_object_mut()) {
                obj.insert(
                    "self_check".into(),
                    serde_json::to_value(&d.stats).unwrap_or_default(),
                );
            }
            Json(v).into_response()
        }
        Err(e) => {
            app.metrics.request("http", "reload", "422");
            let g = app.generation();
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                Json(serde_json::json!({
                    "error": format!("reload refused, generation {} stays: {e}", g.id),
                    "generation": g.id,
                })),
            )
                .into_response()
        }
    }
}

async fn openapi() -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response()
}

async fn healthz(State(app): State<App>) -> Response {
    let g = app.generation();
    Json(serde_json::json!({
        "status": "ok",
        "signatures_generation": g.id,
    }))
    .into_response()
}

async fn metrics(State(app): State<App>, headers: HeaderMap) -> Response {
    if let Err(e) = authorize(&app, &headers, Role::Scan) {
        return e.into_response();
    }
    let g = app.generation();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        app.metrics.render(g.id, g.age().as_secs_f64()),
    )
        .into_response()
}

async fn not_found() -> Response {
    ApiError::new(StatusCode::NOT_FOUND, "no such endpoint").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned() {
        assert_eq!(clean_name("a\u{1b}[31mb\n"), "a[31mb");
        assert_eq!(clean_name(""), "upload");
        let long = "é".repeat(MAX_NAME);
        assert!(clean_name(&long).len() <= MAX_NAME);
    }

    #[test]
    fn bearer_is_parsed() {
        let mut h = HeaderMap::new();
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer  abc "),
        );
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(header::AUTHORIZATION, HeaderValue::from_static("Basic abc"));
        assert_eq!(bearer(&h), None);
    }
}
