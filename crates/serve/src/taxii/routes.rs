//! The TAXII 2.1 HTTP endpoints, under the configured prefix:
//!
//! | path (below the prefix) | methods |
//! |---|---|
//! | `/` | GET discovery |
//! | `/{api}/` | GET API root |
//! | `/{api}/collections/` | GET |
//! | `/{api}/collections/{id}/` | GET |
//! | `/{api}/collections/{id}/objects/` | GET, POST |
//! | `/{api}/collections/{id}/objects/{object-id}/` | GET, DELETE |
//! | `/{api}/collections/{id}/objects/{object-id}/versions/` | GET |
//! | `/{api}/collections/{id}/manifest/` | GET |
//! | `/{api}/status/{status-id}/` | GET |
//!
//! Every request is checked in this order: `Accept` (406), the path
//! (404), the method (405), the caller's token (401) and the collection's
//! grant (403), then for a POST its `Content-Type` (415) and length (413)
//! before any body byte is read. Errors are TAXII error messages. Store
//! calls run on the blocking pool.

use super::store::{self, Added, Cursor, NewObject, Outcome, Query, VersionFilter};
use super::{Collection, Grant, MEDIA_TYPE_STIX, MEDIA_TYPE_TAXII, Taxii};
use crate::service::Service;
use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Instant;
use subtle::ConstantTimeEq;

/// Values in one `match[...]` filter: each becomes an SQL parameter.
const MAX_MATCH_VALUES: usize = 1000;
/// Longest filter value (ids and types are far shorter).
const MAX_MATCH_VALUE_LEN: usize = 300;
/// A page stops growing past this many bytes of objects (then `more`):
/// a `limit` of large objects must not build a response of gigabytes.
const MAX_PAGE_BYTES: usize = 16 << 20;
/// Longest STIX type name (STIX 2.1: 3 to 250 characters).
const MAX_TYPE_LEN: usize = 250;

type App = Arc<Service>;

/// The routes of the TAXII server below `prefix` (`/taxii2`).
pub fn router(prefix: &str) -> Router<App> {
    Router::new()
        .route(prefix, any(handle))
        .route(&format!("{prefix}/"), any(handle))
        .route(&format!("{prefix}/{{*rest}}"), any(handle))
}

/// A TAXII error message (`title`, `description`, `http_status`).
#[derive(Debug)]
pub struct TaxiiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Short title.
    pub title: &'static str,
    /// What went wrong, naming the input.
    pub description: String,
}

impl TaxiiError {
    fn new(status: StatusCode, title: &'static str, description: impl Into<String>) -> Self {
        TaxiiError {
            status,
            title,
            description: description.into(),
        }
    }

    fn bad(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Bad request", description)
    }

    fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "TAXII store failed");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Internal error",
            "the object store failed; see the server's log",
        )
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let body = json!({
            "title": self.title,
            "description": self.description,
            "http_status": self.status.as_u16().to_string(),
        });
        let mut r = taxii_response(self.status, body.to_string());
        crate::http::decorate(&mut r, self.status);
        r
    }
}

fn taxii_response(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(MEDIA_TYPE_TAXII),
    );
    r
}

/// Adds the `X-TAXII-Date-Added-First/Last` headers of a page.
fn with_added(mut r: Response, range: Option<(i64, i64)>) -> Response {
    if let Some((first, last)) = range {
        for (name, us) in [
            ("x-taxii-date-added-first", first),
            ("x-taxii-date-added-last", last),
        ] {
            if let Ok(v) = HeaderValue::from_str(&store::format_micros(us)) {
                r.headers_mut().insert(name, v);
            }
        }
    }
    r
}

async fn handle(State(app): State<App>, req: Request) -> Response {
    let Some(taxii) = app.taxii.clone() else {
        return TaxiiError::new(StatusCode::NOT_FOUND, "Not found", "TAXII is not enabled")
            .into_response();
    };
    let started = Instant::now();
    let r = match dispatch(&app, &taxii, req).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    };
    app.metrics.request("http", "taxii", r.status().as_str());
    app.metrics
        .latency("taxii", started.elapsed().as_secs_f64());
    r
}

/// Who is asking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    /// No token.
    Anonymous,
    /// A `[taxii.tokens]` token (its index).
    Named(usize),
    /// One of the service's own tokens (`auth.tokens`, `auth.admin_tokens`).
    Service,
}

fn caller(app: &Service, t: &Taxii, headers: &HeaderMap) -> Result<Caller, TaxiiError> {
    let Some(v) = headers.get(header::AUTHORIZATION) else {
        return Ok(Caller::Anonymous);
    };
    let unauthorized = |d: &str| TaxiiError::new(StatusCode::UNAUTHORIZED, "Unauthorized", d);
    let v = v
        .to_str()
        .map_err(|_| unauthorized("the Authorization header is not ASCII"))?;
    let Some((scheme, token)) = v.split_once(' ') else {
        return Err(unauthorized(
            "give a bearer token: Authorization: Bearer TOKEN",
        ));
    };
    // `Token` is what taxii2-client's TokenAuth sends; same tokens.
    if !scheme.eq_ignore_ascii_case("bearer") && !scheme.eq_ignore_ascii_case("token") {
        return Err(unauthorized(
            "only tokens are accepted (Authorization: Bearer TOKEN, or Token TOKEN)",
        ));
    }
    let token = token.trim().as_bytes();
    // Every token is compared, whatever matches, so timing tells nothing.
    let mut found = None;
    for (i, (_, t)) in t.settings.tokens.iter().enumerate() {
        if bool::from(t.as_bytes().ct_eq(token)) {
            found = Some(Caller::Named(i));
        }
    }
    let s = &app.settings;
    for t in s.tokens.iter().chain(&s.admin_tokens) {
        if bool::from(t.as_bytes().ct_eq(token)) && found.is_none() {
            found = Some(Caller::Service);
        }
    }
    found.ok_or_else(|| unauthorized("invalid token"))
}

/// Whether `caller` is in `grant`. `"*"` admits every valid token, and
/// callers without one while the service does not require tokens (every
/// listener on loopback and no `auth` tokens): serve's own rule. Names are
/// enforced always, loopback included.
fn granted(grant: &Grant, caller: Caller, open: bool) -> bool {
    match caller {
        Caller::Anonymous => grant.everyone && open,
        Caller::Service => grant.everyone,
        Caller::Named(i) => grant.everyone || grant.names.contains(&i),
    }
}

fn denied(caller: Caller, what: &str, collection: &str) -> TaxiiError {
    if caller == Caller::Anonymous {
        TaxiiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            format!("{what} collection {collection} needs a bearer token"),
        )
    } else {
        TaxiiError::new(
            StatusCode::FORBIDDEN,
            "Forbidden",
            format!("this token may not {what} collection {collection}"),
        )
    }
}

/// Whether one media range list (an `Accept` or `Content-Type` value)
/// names the TAXII 2.1 type; wildcards count when `wildcards`.
fn names_taxii(value: &str, wildcards: bool) -> bool {
    value.split(',').any(|range| {
        let mut parts = range.split(';');
        let mt = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut version: Option<String> = None;
        let mut q = 1.0f32;
        for p in parts {
            if let Some((k, v)) = p.split_once('=') {
                let v = v.trim().trim_matches('"');
                match k.trim().to_ascii_lowercase().as_str() {
                    "version" => version = Some(v.to_string()),
                    "q" => q = v.parse().unwrap_or(0.0),
                    _ => {}
                }
            }
        }
        if q <= 0.0 {
            return false;
        }
        match mt.as_str() {
            "*/*" | "application/*" => wildcards,
            // No version: the latest, which is 2.1.
            "application/taxii+json" => version.is_none_or(|v| v == "2.1"),
            _ => false,
        }
    })
}

/// Without an `Accept` header anything is acceptable (RFC 9110).
fn accepts_taxii(headers: &HeaderMap) -> bool {
    let mut values = headers.get_all(header::ACCEPT).iter().peekable();
    if values.peek().is_none() {
        return true;
    }
    values.any(|v| v.to_str().is_ok_and(|v| names_taxii(v, true)))
}

fn method_not_allowed(allow: &'static str) -> TaxiiError {
    TaxiiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "Method not allowed",
        format!("this endpoint accepts {allow}"),
    )
}

fn not_found(what: String) -> TaxiiError {
    TaxiiError::new(StatusCode::NOT_FOUND, "Not found", what)
}

async fn dispatch(app: &App, t: &Arc<Taxii>, req: Request) -> Result<Response, TaxiiError> {
    if !accepts_taxii(req.headers()) {
        return Err(TaxiiError::new(
            StatusCode::NOT_ACCEPTABLE,
            "Not acceptable",
            format!("this server answers {MEDIA_TYPE_TAXII}; the Accept header does not allow it"),
        ));
    }
    let path = req.uri().path().to_string();
    let rest = path.strip_prefix(t.settings.prefix.as_str()).unwrap_or("");
    let rest = rest.strip_prefix('/').unwrap_or(rest);
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let segs: Vec<&str> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split('/').collect()
    };
    if segs.iter().any(|s| s.is_empty()) {
        return Err(not_found(format!("no TAXII resource at {path}")));
    }
    let who = caller(app, t, req.headers())?;
    let open = !app.settings.tokens_required;
    let method = req.method().clone();
    let get_only = |m: &Method| {
        if m == Method::GET || m == Method::HEAD {
            Ok(())
        } else {
            Err(method_not_allowed("GET"))
        }
    };
    // Discovery, the API root and the list of collections need a valid
    // caller once the service requires tokens.
    let gate = || {
        if who == Caller::Anonymous && !open {
            Err(TaxiiError::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "this server needs a bearer token (Authorization: Bearer TOKEN)",
            ))
        } else {
            Ok(())
        }
    };
    let api = t.settings.api_root.as_str();
    match segs.as_slice() {
        [] => {
            get_only(&method)?;
            gate()?;
            Ok(discovery(t))
        }
        [a, ..] if *a != api => Err(not_found(format!("no API root at {path}"))),
        [_] => {
            get_only(&method)?;
            gate()?;
            Ok(api_root(t))
        }
        [_, "collections"] => {
            get_only(&method)?;
            gate()?;
            let list: Vec<Value> = t
                .settings
                .collections
                .iter()
                .filter_map(|c| collection_json(c, who, open))
                .collect();
            Ok(taxii_response(
                StatusCode::OK,
                json!({ "collections": list }).to_string(),
            ))
        }
        [_, "status", sid] => {
            get_only(&method)?;
            let sid = sid.to_ascii_lowercase();
            let store = t.store.clone();
            let found = blocking(t, move || store.status(&sid)).await?;
            let Some((coll, body)) = found else {
                return Err(not_found(format!("no status {}", sanitize(segs[2]))));
            };
            let allowed = t
                .collection(&coll)
                .is_some_and(|c| granted(&c.read, who, open) || granted(&c.write, who, open));
            if !allowed {
                return Err(denied(who, "read the statuses of", &coll));
            }
            Ok(taxii_response(StatusCode::OK, body))
        }
        [_, "collections", cid, tail @ ..] => {
            let cid = cid.to_ascii_lowercase();
            let Some(c) = t.collection(&cid) else {
                return Err(not_found(format!("no collection {}", sanitize(&cid))));
            };
            let can_read = granted(&c.read, who, open);
            let can_write = granted(&c.write, who, open);
            let need_read = || {
                if can_read {
                    Ok(())
                } else {
                    Err(denied(who, "read", &c.id))
                }
            };
            match tail {
                [] => {
                    get_only(&method)?;
                    if !can_read && !can_write {
                        return Err(denied(who, "see", &c.id));
                    }
                    let body = collection_json(c, who, open).unwrap_or(Value::Null);
                    Ok(taxii_response(StatusCode::OK, body.to_string()))
                }
                ["objects"] if method == Method::POST => {
                    if !can_write {
                        return Err(denied(who, "write to", &c.id));
                    }
                    add_objects(app, t, c, req).await
                }
                ["objects"] => {
                    get_only(&method).map_err(|_| method_not_allowed("GET, POST"))?;
                    need_read()?;
                    let q = query(t, req.uri(), Endpoint::Objects)?;
                    objects(t, &c.id, q).await
                }
                ["manifest"] => {
                    get_only(&method)?;
                    need_read()?;
                    let q = query(t, req.uri(), Endpoint::Manifest)?;
                    manifest(t, &c.id, q).await
                }
                ["objects", oid] if method == Method::DELETE => {
                    if !can_write {
                        return Err(denied(who, "delete from", &c.id));
                    }
                    let q = query(t, req.uri(), Endpoint::Delete)?;
                    let oid = oid.to_string();
                    existing(t, &c.id, &oid).await?;
                    let store = t.store.clone();
                    let cid = c.id.clone();
                    blocking(t, move || store.delete(&cid, &oid, &q)).await?;
                    let mut r = StatusCode::OK.into_response();
                    r.headers_mut().insert(
                        header::CONTENT_TYPE,
                        HeaderValue::from_static(MEDIA_TYPE_TAXII),
                    );
                    Ok(r)
                }
                ["objects", oid] => {
                    get_only(&method).map_err(|_| method_not_allowed("GET, DELETE"))?;
                    need_read()?;
                    let mut q = query(t, req.uri(), Endpoint::Object)?;
                    existing(t, &c.id, oid).await?;
                    q.ids = vec![oid.to_string()];
                    objects(t, &c.id, q).await
                }
                ["objects", oid, "versions"] => {
                    get_only(&method)?;
                    need_read()?;
                    let q = query(t, req.uri(), Endpoint::Versions)?;
                    existing(t, &c.id, oid).await?;
                    versions(t, &c.id, oid, q).await
                }
                _ => Err(not_found(format!(
                    "no TAXII resource at {}",
                    sanitize(&path)
                ))),
            }
        }
        _ => Err(not_found(format!(
            "no TAXII resource at {}",
            sanitize(&path)
        ))),
    }
}

/// Keeps client text in error messages short and printable.
fn sanitize(s: &str) -> String {
    s.chars().filter(|c| !c.is_control()).take(200).collect()
}

/// Runs a store call on the blocking pool, at most `CONCURRENT_READS` at
/// once.
async fn blocking<T: Send + 'static>(
    t: &Taxii,
    f: impl FnOnce() -> Result<T, store::StoreError> + Send + 'static,
) -> Result<T, TaxiiError> {
    let _permit = t
        .reads
        .clone()
        .acquire_owned()
        .await
        .map_err(TaxiiError::internal)?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(TaxiiError::internal)?
        .map_err(TaxiiError::internal)
}

async fn existing(t: &Taxii, cid: &str, oid: &str) -> Result<(), TaxiiError> {
    let store = t.store.clone();
    let (c, o) = (cid.to_string(), oid.to_string());
    if blocking(t, move || store.exists(&c, &o)).await? {
        Ok(())
    } else {
        Err(not_found(format!(
            "no object {} in collection {cid}",
            sanitize(oid)
        )))
    }
}

fn discovery(t: &Taxii) -> Response {
    let s = &t.settings;
    let root = format!("{}/{}/", s.prefix, s.api_root);
    let mut v = json!({
        "title": s.title,
        "description": s.description,
        "default": root,
        "api_roots": [root],
    });
    if let Some(c) = &s.contact {
        v["contact"] = json!(c);
    }
    taxii_response(StatusCode::OK, v.to_string())
}

fn api_root(t: &Taxii) -> Response {
    let s = &t.settings;
    let v = json!({
        "title": s.title,
        "description": s.description,
        "versions": [MEDIA_TYPE_TAXII],
        "max_content_length": s.max_content_length,
    });
    taxii_response(StatusCode::OK, v.to_string())
}

/// The collection resource as `caller` sees it; `None` when it may
/// neither read nor write (the collection is then not listed).
fn collection_json(c: &Collection, who: Caller, open: bool) -> Option<Value> {
    let can_read = granted(&c.read, who, open);
    let can_write = granted(&c.write, who, open);
    if !can_read && !can_write {
        return None;
    }
    let mut v = json!({
        "id": c.id,
        "title": c.title,
        "can_read": can_read,
        "can_write": can_write,
        "media_types": [MEDIA_TYPE_STIX],
    });
    if let Some(d) = &c.description {
        v["description"] = json!(d);
    }
    if let Some(a) = &c.alias {
        v["alias"] = json!(a);
    }
    Some(v)
}

/// Which parameters an endpoint takes (TAXII 2.1, section 3.5).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Objects,
    Manifest,
    Object,
    Versions,
    Delete,
}

impl Endpoint {
    fn takes(self, key: &str) -> bool {
        use Endpoint::*;
        match key {
            "added_after" | "limit" | "next" => self != Delete,
            "match[id]" | "match[type]" => matches!(self, Objects | Manifest),
            "match[version]" => self != Versions,
            "match[spec_version]" => true,
            _ => false,
        }
    }
}

/// The filters and paging of a request; an unknown or malformed parameter
/// is a 400 naming it (a filter silently ignored would hand a partner
/// more than asked for).
fn query(t: &Taxii, uri: &axum::http::Uri, ep: Endpoint) -> Result<Query, TaxiiError> {
    let params: Vec<(String, String)> = match uri.query() {
        None => Vec::new(),
        Some(_) => {
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
                .map_err(|e| TaxiiError::bad(format!("malformed query string: {e}")))?
                .0
        }
    };
    let mut q = Query {
        limit: t.settings.max_page_size,
        ..Query::default()
    };
    let mut versions = VersionFilter::default();
    let mut any_version = false;
    for (k, v) in &params {
        if !ep.takes(k) {
            return Err(TaxiiError::bad(format!(
                "parameter '{}' is not supported here",
                sanitize(k)
            )));
        }
        let values = || -> Result<Vec<String>, TaxiiError> {
            let list: Vec<String> = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect();
            if list.is_empty() {
                return Err(TaxiiError::bad(format!("{k}: no value")));
            }
            if list.len() > MAX_MATCH_VALUES || list.iter().any(|s| s.len() > MAX_MATCH_VALUE_LEN) {
                return Err(TaxiiError::bad(format!(
                    "{k}: at most {MAX_MATCH_VALUES} values of at most {MAX_MATCH_VALUE_LEN} characters"
                )));
            }
            Ok(list)
        };
        match k.as_str() {
            "added_after" => {
                q.added_after = Some(store::parse_micros(v.trim()).ok_or_else(|| {
                    TaxiiError::bad(format!(
                        "added_after: '{}' is not an RFC 3339 timestamp",
                        sanitize(v)
                    ))
                })?);
            }
            "limit" => {
                let n: usize = v.trim().parse().ok().filter(|&n| n > 0).ok_or_else(|| {
                    TaxiiError::bad(format!(
                        "limit: '{}' is not a positive integer",
                        sanitize(v)
                    ))
                })?;
                q.limit = n.min(t.settings.max_page_size);
            }
            "next" => {
                q.after = Some(Cursor::decode(v.trim()).ok_or_else(|| {
                    TaxiiError::bad(format!(
                        "next: '{}' is not a value this server gave",
                        sanitize(v)
                    ))
                })?);
            }
            "match[id]" => q.ids.extend(values()?),
            "match[type]" => q.types.extend(values()?),
            "match[spec_version]" => q.spec_versions.extend(values()?),
            "match[version]" => {
                any_version = true;
                for s in values()? {
                    match s.as_str() {
                        "all" => versions.all = true,
                        "last" => versions.last = true,
                        "first" => versions.first = true,
                        ts => versions.exact.push(store::parse_micros(ts).ok_or_else(|| {
                            TaxiiError::bad(format!(
                                "match[version]: '{}' is not last, first, all or an RFC 3339 timestamp",
                                sanitize(ts)
                            ))
                        })?),
                    }
                }
            }
            _ => {}
        }
    }
    if any_version {
        q.versions = versions;
    }
    Ok(q)
}

/// `{"more":..,"next":..,<key>:<array>}`; without items, `{"more":false}`.
fn envelope(more: bool, next: Option<Cursor>, key: &str, array: &str, count: usize) -> String {
    let mut out = String::with_capacity(array.len() + 64);
    out.push_str("{\"more\":");
    out.push_str(if more { "true" } else { "false" });
    if let Some(n) = next.filter(|_| more) {
        out.push_str(",\"next\":\"");
        out.push_str(&n.encode());
        out.push('"');
    }
    if count > 0 {
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":");
        out.push_str(array);
    }
    out.push('}');
    out
}

async fn objects(t: &Taxii, cid: &str, q: Query) -> Result<Response, TaxiiError> {
    let store = t.store.clone();
    let cid = cid.to_string();
    let page = blocking(t, move || store.objects(&cid, &q, MAX_PAGE_BYTES)).await?;
    let body = envelope(page.more, page.next, "objects", &page.array, page.count);
    Ok(with_added(
        taxii_response(StatusCode::OK, body),
        page.added_range,
    ))
}

async fn manifest(t: &Taxii, cid: &str, q: Query) -> Result<Response, TaxiiError> {
    let store = t.store.clone();
    let cid = cid.to_string();
    let page = blocking(t, move || store.manifest(&cid, &q)).await?;
    let items: Vec<Value> = page
        .items
        .iter()
        .map(|m| {
            json!({
                "id": m.id,
                "date_added": store::format_micros(m.date_added),
                "version": m.version,
                "media_type": format!("application/stix+json;version={}", m.spec_version),
            })
        })
        .collect();
    let array = Value::Array(items).to_string();
    let body = envelope(page.more, page.next, "objects", &array, page.items.len());
    Ok(with_added(
        taxii_response(StatusCode::OK, body),
        page.added_range,
    ))
}

async fn versions(t: &Taxii, cid: &str, oid: &str, q: Query) -> Result<Response, TaxiiError> {
    let store = t.store.clone();
    let (cid, oid) = (cid.to_string(), oid.to_string());
    let page = blocking(t, move || store.versions(&cid, &oid, &q)).await?;
    let array = json!(page.items).to_string();
    let body = envelope(page.more, page.next, "versions", &array, page.items.len());
    Ok(with_added(
        taxii_response(StatusCode::OK, body),
        page.added_range,
    ))
}

async fn add_objects(
    app: &App,
    t: &Arc<Taxii>,
    c: &Collection,
    req: Request,
) -> Result<Response, TaxiiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !names_taxii(content_type, false) {
        return Err(TaxiiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "Unsupported media type",
            format!(
                "POST a TAXII envelope as {MEDIA_TYPE_TAXII} (Content-Type was '{}')",
                sanitize(content_type)
            ),
        ));
    }
    let limit = t.settings.max_content_length;
    let too_large = |len: String| {
        TaxiiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Payload too large",
            format!("body of {len} bytes is over max_content_length ({limit} bytes)"),
        )
    };
    if let Some(len) = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > limit
    {
        return Err(too_large(len.to_string()));
    }
    let busy = || {
        TaxiiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Busy",
            "too many POSTs in progress; retry shortly",
        )
    };
    let _permit = tokio::time::timeout(app.settings.idle_timeout, t.posts.clone().acquire_owned())
        .await
        .map_err(|_| busy())?
        .map_err(|_| busy())?;
    let body = read_body(app, req.into_body(), limit)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => too_large(format!("more than {limit}")),
            BodyError::Timeout => TaxiiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "Request timeout",
                "the request body was not received in time",
            ),
            BodyError::Read(m) => TaxiiError::bad(format!("cannot read the request body: {m}")),
        })?;
    let store = t.store.clone();
    let cid = c.id.clone();
    let reads = t.clone();
    let status = blocking(
        &reads,
        move || -> Result<Result<String, TaxiiError>, store::StoreError> {
            let requested = store::now_micros();
            let (valid, failures) = match parse_envelope(&body) {
                Ok(v) => v,
                Err(e) => return Ok(Err(e)),
            };
            let stored = store_objects(&store, &cid, &valid, &failures, requested)?;
            tracing::info!(
                collection = %cid,
                status = %stored.status_id,
                total = valid.len() + failures.len(),
                added = stored.added,
                already_present = stored.already_present,
                failed = failures.len(),
                "TAXII objects posted"
            );
            Ok(Ok(stored.status))
        },
    )
    .await??;
    Ok(taxii_response(StatusCode::ACCEPTED, status))
}

/// What storing the objects of one envelope did.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Id of its status resource.
    pub status_id: String,
    /// The status resource (JSON), as a POST answers it.
    pub status: String,
    /// Objects stored now.
    pub added: usize,
    /// Objects whose id and version were stored already (successes too).
    pub already_present: usize,
}

/// Stores checked objects, with the status resource that also lists the
/// refused ones, in one transaction: what a POST does once its body is
/// parsed ([`parse_envelope`]), and what publishing the service's own
/// scan sightings does ([`super::publish`]), so both follow one rule for
/// identity, versions and re-adds. `requested` (microseconds) is the
/// status' `request_timestamp`. Blocking.
pub fn store_objects(
    store: &store::Store,
    collection: &str,
    valid: &[NewObject],
    failures: &[Failure],
    requested: i64,
) -> Result<Stored, store::StoreError> {
    let total = valid.len() + failures.len();
    let status_id = super::random_uuid();
    let mut json_out = String::new();
    let added = store.add(collection, valid, requested, &status_id, |added| {
        let s = status_json(&status_id, requested, total, added, failures);
        json_out = s.clone();
        s
    })?;
    let new = added.iter().filter(|a| a.outcome == Outcome::Added).count();
    Ok(Stored {
        status_id,
        status: json_out,
        added: new,
        already_present: added.len() - new,
    })
}

enum BodyError {
    TooLarge,
    Timeout,
    Read(String),
}

/// Reads the whole body, at most `limit` bytes, each chunk within the
/// idle timeout and the whole within the request timeout.
async fn read_body(app: &App, mut body: Body, limit: u64) -> Result<Vec<u8>, BodyError> {
    use http_body_util::BodyExt;
    let deadline = Instant::now() + app.settings.request_timeout;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(BodyError::Timeout);
        }
        let wait = left.min(app.settings.idle_timeout);
        match tokio::time::timeout(wait, body.frame()).await {
            Err(_) => return Err(BodyError::Timeout),
            Ok(None) => return Ok(out),
            Ok(Some(Err(e))) => return Err(BodyError::Read(e.to_string())),
            Ok(Some(Ok(frame))) => {
                if let Ok(data) = frame.into_data() {
                    if out.len() as u64 + data.len() as u64 > limit {
                        return Err(BodyError::TooLarge);
                    }
                    out.extend_from_slice(&data);
                }
            }
        }
    }
}

/// One object that was refused, for the status.
#[derive(Debug, Clone)]
pub struct Failure {
    /// Its id, or `objects[N]` when it has none.
    pub id: String,
    /// Its version text when it has one.
    pub version: Option<String>,
    /// Why.
    pub message: String,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow, default)]
    objects: Option<Vec<&'a RawValue>>,
}

/// Parses a TAXII envelope: the valid objects and the refused ones. Only
/// a body that is not an envelope at all is an error (400).
pub fn parse_envelope(body: &[u8]) -> Result<(Vec<NewObject>, Vec<Failure>), TaxiiError> {
    // serde would also read a struct from a JSON array.
    if body.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        return Err(TaxiiError::bad(
            "the body is not a TAXII envelope (a JSON object)",
        ));
    }
    let env: Envelope<'_> = serde_json::from_slice(body)
        .map_err(|e| TaxiiError::bad(format!("the body is not a TAXII envelope: {e}")))?;
    let mut valid = Vec::new();
    let mut failures = Vec::new();
    for (i, raw) in env.objects.unwrap_or_default().into_iter().enumerate() {
        match check_object(raw) {
            Ok(o) => valid.push(o),
            Err((id, version, message)) => failures.push(Failure {
                id: id.unwrap_or_else(|| format!("objects[{i}]")),
                version,
                message,
            }),
        }
    }
    Ok((valid, failures))
}

#[derive(Deserialize)]
struct Head {
    #[serde(rename = "type")]
    kind: Option<Value>,
    id: Option<Value>,
    spec_version: Option<Value>,
    modified: Option<Value>,
    created: Option<Value>,
}

type Refusal = (Option<String>, Option<String>, String);

/// The minimal checks: a JSON object, a STIX `type`, an `id` of that type
/// and a UUID, `spec_version` 2.1 when given, `modified`/`created` RFC
/// 3339 when given.
fn check_object(raw: &RawValue) -> Result<NewObject, Refusal> {
    let text = raw.get();
    if !text.trim_start().starts_with('{') {
        return Err((None, None, "not a JSON object".into()));
    }
    let head: Head =
        serde_json::from_str(text).map_err(|e| (None, None, format!("unreadable object: {e}")))?;
    let id = match &head.id {
        Some(Value::String(s)) => Some(sanitize(s)),
        _ => None,
    };
    let version_text = |v: &Option<Value>| match v {
        Some(Value::String(s)) => Some(sanitize(s)),
        _ => None,
    };
    let version = version_text(&head.modified).or_else(|| version_text(&head.created));
    let fail = |m: String| (id.clone(), version.clone(), m);
    let kind = match &head.kind {
        Some(Value::String(s)) => s.clone(),
        Some(_) => return Err(fail("'type' is not a string".into())),
        None => return Err(fail("'type' is missing".into())),
    };
    let type_ok = (3..=MAX_TYPE_LEN).contains(&kind.len())
        && kind
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !kind.contains("--");
    if !type_ok {
        return Err(fail(format!(
            "'type' '{}' is not a STIX type (3 to 250 of a-z, 0-9, '-')",
            sanitize(&kind)
        )));
    }
    let Some(Value::String(full_id)) = &head.id else {
        return Err(fail("'id' is missing or not a string".into()));
    };
    match full_id.split_once("--") {
        Some((t, u)) if t == kind && super::is_uuid(u) => {}
        _ => {
            return Err(fail(format!(
                "'id' '{}' is not '{kind}--' followed by a UUID",
                sanitize(full_id)
            )));
        }
    }
    let spec_version = match &head.spec_version {
        None => "2.1".to_string(),
        Some(Value::String(s)) if s == "2.1" => s.clone(),
        Some(v) => {
            return Err(fail(format!(
                "spec_version {} is not supported: this server stores STIX 2.1",
                sanitize(&v.to_string())
            )));
        }
    };
    let stamp = |name: &str, v: &Option<Value>| -> Result<Option<(i64, String)>, Refusal> {
        match v {
            None => Ok(None),
            Some(Value::String(s)) => match store::parse_micros(s) {
                Some(us) => Ok(Some((us, s.clone()))),
                None => Err(fail(format!(
                    "'{name}' '{}' is not an RFC 3339 timestamp",
                    sanitize(s)
                ))),
            },
            Some(_) => Err(fail(format!("'{name}' is not a string"))),
        }
    };
    let modified = stamp("modified", &head.modified)?;
    let created = stamp("created", &head.created)?;
    Ok(NewObject {
        id: full_id.clone(),
        kind,
        spec_version,
        version: modified.or(created),
        json: minify(text),
    })
}

/// Removes the whitespace between JSON tokens (the text is valid JSON:
/// `RawValue` checked it), so pages carry no indentation.
fn minify(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_string = false;
    let mut escaped = false;
    for ch in s.chars() {
        if in_string {
            out.push(ch);
            if escaped {
                escaped = false;
            } else if ch == '\\' {
                escaped = true;
            } else if ch == '"' {
                in_string = false;
            }
        } else if ch == '"' {
            in_string = true;
            out.push(ch);
        } else if !matches!(ch, ' ' | '\n' | '\r' | '\t') {
            out.push(ch);
        }
    }
    out
}

/// The status resource of one POST, all of it complete.
fn status_json(
    id: &str,
    requested: i64,
    total: usize,
    added: &[Added],
    failures: &[Failure],
) -> String {
    let successes: Vec<Value> = added
        .iter()
        .map(|a| {
            json!({
                "id": a.id,
                "version": a.version,
                "message": match a.outcome {
                    Outcome::Added => "added",
                    Outcome::AlreadyPresent => "already present (same id and version); not added again",
                },
            })
        })
        .collect();
    let failures: Vec<Value> = failures
        .iter()
        .map(|f| {
            let mut v = json!({ "id": f.id, "message": f.message });
            if let Some(ver) = &f.version {
                v["version"] = json!(ver);
            }
            v
        })
        .collect();
    json!({
        "id": id,
        "status": "complete",
        "request_timestamp": store::format_micros(requested),
        "total_count": total,
        "success_count": successes.len(),
        "successes": successes,
        "failure_count": failures.len(),
        "failures": failures,
        "pending_count": 0,
        "pendings": [],
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types_are_negotiated() {
        assert!(names_taxii("application/taxii+json;version=2.1", false));
        assert!(names_taxii(
            "application/taxii+json; version=\"2.1\"",
            false
        ));
        assert!(names_taxii("application/taxii+json", false));
        assert!(!names_taxii("application/taxii+json;version=2.0", false));
        assert!(!names_taxii("application/json", false));
        assert!(!names_taxii("*/*", false));
        assert!(names_taxii("text/html, */*;q=0.1", true));
        assert!(!names_taxii("application/taxii+json;version=2.1;q=0", true));
        let mut h = HeaderMap::new();
        assert!(accepts_taxii(&h));
        h.insert(header::ACCEPT, HeaderValue::from_static("application/json"));
        assert!(!accepts_taxii(&h));
    }

    #[test]
    fn objects_are_checked_one_by_one() {
        let body = br#"{"objects":[
            {"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","spec_version":"2.1",
             "created":"2024-01-01T00:00:00.000Z","modified":"2024-01-02T00:00:00.000Z"},
            {"type":"file","id":"file--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "name" : "a b"},
            {"type":"indicator","id":"malware--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"},
            {"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","spec_version":"2.0"},
            {"id":"x--1"},
            [1,2],
            {"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","modified":"yesterday"},
            {"type":"Bad Type","id":"Bad Type--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}
        ]}"#;
        let (valid, failed) = parse_envelope(body).unwrap();
        assert_eq!(valid.len(), 2);
        assert_eq!(
            valid[0].version.as_ref().unwrap().1,
            "2024-01-02T00:00:00.000Z"
        );
        assert!(valid[1].version.is_none());
        assert_eq!(
            valid[1].json,
            r#"{"type":"file","id":"file--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","name":"a b"}"#
        );
        assert_eq!(failed.len(), 6, "{failed:?}");
        assert!(failed[0].message.contains("indicator--"));
        assert!(failed[1].message.contains("2.0"));
        assert!(failed[2].message.contains("'type' is missing"));
        assert_eq!(failed[3].id, "objects[5]");
        assert!(failed[4].message.contains("yesterday"));
        assert!(failed[5].message.contains("not a STIX type"));
        assert!(parse_envelope(b"[]").is_err());
        assert!(parse_envelope(b"{\"objects\": 5}").is_err());
        assert_eq!(parse_envelope(b"{}").unwrap().0.len(), 0);
        // Deep nesting is a refused object, not a stack overflow.
        let deep = format!(
            "{{\"objects\":[{{\"a\":{}{}}}, {}{}]}}",
            "[".repeat(100_000),
            "]".repeat(100_000),
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let (valid, failed) = parse_envelope(deep.as_bytes()).unwrap();
        assert!(valid.is_empty() && failed.len() == 2, "{failed:?}");
        // serde_json skips unknown members without recursing.
        assert!(
            failed[0].message.contains("'type' is missing"),
            "{failed:?}"
        );
    }

    #[test]
    fn envelopes() {
        assert_eq!(
            envelope(false, None, "objects", "[]", 0),
            r#"{"more":false}"#
        );
        let c = Cursor {
            date_added: 16,
            rowid: 2,
        };
        assert_eq!(
            envelope(true, Some(c), "objects", "[1]", 1),
            r#"{"more":true,"next":"10.2","objects":[1]}"#
        );
    }
}
