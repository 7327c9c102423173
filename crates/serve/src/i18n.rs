//! The languages of the web pages (the online scan and the self-check).
//!
//! Every text a visitor reads is in a file a translator edits,
//! `crates/serve/i18n/{en,ja,de}.toml`, embedded at build time and
//! overridable at run time (`--lang-dir DIR`, docs/selfcheck.md). A key
//! missing from a language falls back to English. Texts are plain text:
//! they are HTML-escaped when rendered, and `{name}` placeholders are
//! filled with escaped values, so neither a translation file nor an
//! interpolated value can inject markup.
//!
//! The language of a request is, in this order: the `lang` query
//! parameter (the switch links), the `lang` cookie the switch sets, the
//! best `Accept-Language` entry by q-value, English.

use crate::web::escape;
use axum::http::{HeaderMap, HeaderValue, header};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// The languages served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Lang {
    /// English, the default and the fallback of every missing key.
    En,
    /// Japanese.
    Ja,
    /// German.
    De,
}

impl Lang {
    /// Every language, English first.
    pub const ALL: [Lang; 3] = [Lang::En, Lang::Ja, Lang::De];

    /// The language's code (BCP 47 primary subtag, the file's name).
    pub fn code(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::Ja => "ja",
            Lang::De => "de",
        }
    }

    /// The language of a code (`ja`, `de-AT`, `EN-us`), if served.
    pub fn from_code(code: &str) -> Option<Lang> {
        let primary = code.split(['-', '_']).next().unwrap_or_default();
        Lang::ALL
            .into_iter()
            .find(|l| primary.eq_ignore_ascii_case(l.code()))
    }

    fn index(self) -> usize {
        match self {
            Lang::En => 0,
            Lang::Ja => 1,
            Lang::De => 2,
        }
    }
}

/// Where the language of a request came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// `?lang=` (the switch links): also set as the cookie.
    Query,
    /// The `lang` cookie.
    Cookie,
    /// `Accept-Language`.
    Header,
    /// Nothing usable: English.
    Default,
}

/// The name of the cookie the language switch sets.
pub const COOKIE: &str = "lang";

/// `Accept-Language` entries looked at: a header is client-controlled and
/// may be long; browsers send a handful.
const MAX_ACCEPT_ENTRIES: usize = 32;

/// The language of a request (see the module documentation).
pub fn choose(query: Option<&str>, headers: &HeaderMap) -> (Lang, Source) {
    if let Some(l) = query.and_then(query_lang) {
        return (l, Source::Query);
    }
    if let Some(l) = cookie_lang(headers) {
        return (l, Source::Cookie);
    }
    let accept = headers
        .get_all(header::ACCEPT_LANGUAGE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join(",");
    match accept_language(&accept) {
        Some(l) => (l, Source::Header),
        None => (Lang::En, Source::Default),
    }
}

/// The `lang` parameter of a query string, if it names a language served.
pub fn query_lang(query: &str) -> Option<Lang> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "lang").then(|| Lang::from_code(v)).flatten()
    })
}

fn cookie_lang(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.split_once('=')?;
            (k.trim() == COOKIE)
                .then(|| Lang::from_code(v.trim().trim_matches('"')))
                .flatten()
        })
}

/// The served language a client prefers most in an `Accept-Language`
/// value (RFC 9110 section 12.5.4): the highest q-value wins, the earlier
/// entry on a tie; `q=0` means "not this one"; `*` and languages not
/// served are passed over; a malformed q-value drops its entry.
pub fn accept_language(value: &str) -> Option<Lang> {
    let mut best: Option<(u16, Lang)> = None;
    for entry in value.split(',').take(MAX_ACCEPT_ENTRIES) {
        let mut parts = entry.split(';');
        let tag = parts.next().unwrap_or_default().trim();
        let mut q = Some(1000);
        for p in parts {
            let p = p.trim();
            if let Some(v) = p.strip_prefix("q=").or_else(|| p.strip_prefix("Q=")) {
                q = qvalue(v.trim());
            }
        }
        let (Some(q), Some(lang)) = (q, Lang::from_code(tag)) else {
            continue;
        };
        if q > 0 && best.is_none_or(|(bq, _)| q > bq) {
            best = Some((q, lang));
        }
    }
    best.map(|(_, l)| l)
}

/// A q-value in thousandths (`0`, `0.5`, `1.000`), or `None` if malformed.
fn qvalue(v: &str) -> Option<u16> {
    let (int, frac) = v.split_once('.').unwrap_or((v, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut thousandths: u16 = 0;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    match int {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The `Set-Cookie` value that keeps a language chosen by the switch.
pub fn set_cookie(lang: Lang) -> HeaderValue {
    HeaderValue::from_static(match lang {
        Lang::En => "lang=en; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
        Lang::Ja => "lang=ja; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
        Lang::De => "lang=de; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
    })
}

/// Headers of a page whose language depends on the request: caches keep
/// one copy per `Accept-Language` and cookie (the service sends
/// `Cache-Control: no-store` anyway), and the switch's choice is kept.
pub fn decorate(headers: &mut HeaderMap, lang: Lang, source: Source) {
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Cookie"),
    );
    headers.insert(
        header::CONTENT_LANGUAGE,
        HeaderValue::from_static(lang.code()),
    );
    if source == Source::Query {
        headers.insert(header::SET_COOKIE, set_cookie(lang));
    }
}

/// One translated entry: a text, or a list of texts (cleanup steps).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Entry {
    /// A text.
    Text(String),
    /// A list of texts, in order.
    List(Vec<String>),
}

const EMBEDDED: [(&str, &str); 3] = [
    ("en", include_str!("../i18n/en.toml")),
    ("ja", include_str!("../i18n/ja.toml")),
    ("de", include_str!("../i18n/de.toml")),
];

/// Largest translation file read from `--lang-dir`.
const MAX_FILE: u64 = 1 << 20;

/// The texts of every language.
#[derive(Clone, Debug)]
pub struct Catalog {
    tables: [HashMap<String, Entry>; 3],
}

impl Catalog {
    /// The embedded translations.
    pub fn builtin() -> Catalog {
        let mut tables: [HashMap<String, Entry>; 3] = Default::default();
        for (i, (code, text)) in EMBEDDED.iter().enumerate() {
            // The embedded files are checked by the tests below.
            tables[i] = parse(text, code).unwrap_or_default();
        }
        Catalog { tables }
    }

    /// The embedded translations with the files of `dir` laid over them
    /// (`en.toml`, `ja.toml`, `de.toml`, each optional): a key of a file
    /// replaces the embedded one. A file that cannot be read or parsed is
    /// an error naming it; keys English does not have are warned about.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Catalog> {
        let mut c = Catalog::builtin();
        let Some(dir) = dir else { return Ok(c) };
        if !dir.is_dir() {
            anyhow::bail!("--lang-dir {}: not a directory", dir.display());
        }
        let english: Vec<String> = c.tables[0].keys().cloned().collect();
        for lang in Lang::ALL {
            let path = dir.join(format!("{}.toml", lang.code()));
            let meta = match std::fs::metadata(&path) {
                Ok(m) => m,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => anyhow::bail!("cannot read {}: {e}", path.display()),
            };
            if meta.len() > MAX_FILE {
                anyhow::bail!("{} is larger than 1 MiB", path.display());
            }
            let text = std::fs::read_to_string(&path)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
            let table = parse(&text, &path.display().to_string())?;
            for key in table.keys() {
                if !english.contains(key) {
                    tracing::warn!(file = %path.display(), key, "translation key not used");
                }
            }
            c.tables[lang.index()].extend(table);
        }
        Ok(c)
    }

    /// The entry of `key` in `lang`, else in English.
    pub fn entry(&self, lang: Lang, key: &str) -> Option<&Entry> {
        self.tables[lang.index()]
            .get(key)
            .or_else(|| self.tables[0].get(key))
    }

    /// The text of `key` in `lang` (English if missing; the key itself if
    /// English lacks it too, so that a missing text is visible).
    pub fn text<'a>(&'a self, lang: Lang, key: &'a str) -> &'a str {
        match self.entry(lang, key) {
            Some(Entry::Text(t)) => t,
            _ => key,
        }
    }

    /// The list of `key` in `lang` (English if missing), if any.
    pub fn list(&self, lang: Lang, key: &str) -> Option<&[String]> {
        match self.entry(lang, key) {
            Some(Entry::List(l)) => Some(l),
            _ => None,
        }
    }

    /// The keys of a language's own table (no fallback), sorted.
    pub fn keys(&self, lang: Lang) -> Vec<&str> {
        let mut k: Vec<&str> = self.tables[lang.index()]
            .keys()
            .map(String::as_str)
            .collect();
        k.sort_unstable();
        k
    }
}

/// A TOML translation file flattened to dotted keys (`check.title`,
/// `cleanup.mirai.steps`); values are strings or arrays of strings.
fn parse(text: &str, origin: &str) -> anyhow::Result<HashMap<String, Entry>> {
    let table: toml::Table = toml::from_str(text).map_err(|e| anyhow::anyhow!("{origin}: {e}"))?;
    let mut out = HashMap::new();
    flatten(&table, "", origin, &mut out)?;
    Ok(out)
}

fn flatten(
    table: &toml::Table,
    prefix: &str,
    origin: &str,
    out: &mut HashMap<String, Entry>,
) -> anyhow::Result<()> {
    for (k, v) in table {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            toml::Value::String(s) => {
                out.insert(key, Entry::Text(s.clone()));
            }
            toml::Value::Array(items) => {
                let list = items
                    .iter()
                    .map(|i| i.as_str().map(str::to_string))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| anyhow::anyhow!("{origin}: {key}: a list of texts only"))?;
                out.insert(key, Entry::List(list));
            }
            toml::Value::Table(t) => flatten(t, &key, origin, out)?,
            _ => anyhow::bail!("{origin}: {key}: texts and lists of texts only"),
        }
    }
    Ok(())
}

/// The texts of one language, rendered as HTML.
#[derive(Clone, Copy)]
pub struct Texts<'a> {
    /// Every language's texts.
    pub catalog: &'a Catalog,
    /// The language of this request.
    pub lang: Lang,
}

impl<'a> Texts<'a> {
    /// The plain text of `key`.
    pub fn raw(&self, key: &'a str) -> &'a str {
        self.catalog.text(self.lang, key)
    }

    /// The text of `key`, escaped for HTML.
    pub fn html(&self, key: &str) -> String {
        escape(self.catalog.text(self.lang, key))
    }

    /// The text of `key`, escaped, with its `{name}` placeholders filled
    /// from `vars` (escaped too). Unknown placeholders stay as written.
    pub fn fill(&self, key: &str, vars: &[(&str, &str)]) -> String {
        interpolate(self.catalog.text(self.lang, key), vars)
    }
}

/// Escapes `text` and fills its `{name}` placeholders with the escaped
/// values of `vars`, in one pass (a value is never searched again for
/// placeholders).
pub fn interpolate(text: &str, vars: &[(&str, &str)]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        out.push_str(&escape(&rest[..open]));
        let after = &rest[open + 1..];
        let value = after.find('}').and_then(|close| {
            let name = &after[..close];
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (close, *v))
        });
        match value {
            Some((close, v)) => {
                out.push_str(&escape(v));
                rest = &after[close + 1..];
            }
            None => {
                out.push('{');
                rest = after;
            }
        }
    }
    out.push_str(&escape(rest));
    out
}

/// Fills a page template: `{{key}}` becomes `vars[key]` (already HTML)
/// when given, else the escaped text of `key` in the page's language.
pub fn render_template(template: &str, texts: Texts<'_>, vars: &[(&str, String)]) -> String {
    let mut out = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let Some(close) = after.find("}}") else {
            out.push_str(&rest[open..]);
            return out;
        };
        let key = after[..close].trim();
        match vars.iter().find(|(k, _)| *k == key) {
            Some((_, v)) => out.push_str(v),
            None => out.push_str(&texts.html(key)),
        }
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    out
}

/// The language switch: one link per language, the current one marked.
/// `path` is the page's own path.
pub fn switch(texts: Texts<'_>, path: &str) -> String {
    let mut out = format!(
        r#"<nav class="langs" aria-label="{}">"#,
        texts.html("nav.language")
    );
    for l in Lang::ALL {
        let name = escape(texts.catalog.text(l, "meta.language_name"));
        if l == texts.lang {
            out.push_str(&format!(
                r#"<span class="lang current" lang="{code}" aria-current="true">{name}</span> "#,
                code = l.code()
            ));
        } else {
            out.push_str(&format!(
                r#"<a class="lang" href="{path}?lang={code}" hreflang="{code}" lang="{code}">{name}</a> "#,
                path = escape(path),
                code = l.code()
            ));
        }
    }
    out.push_str("</nav>");
    out
}

/// The date of a time (microseconds since 1970 UTC) in the language's
/// `meta.date` form (`{year}`, `{month}`, `{day}`, and `{mm}`, `{dd}`
/// with two digits), as HTML.
pub fn date(texts: Texts<'_>, micros: i64) -> String {
    let Some((y, m, d)) = ymd(micros) else {
        return String::new();
    };
    texts.fill(
        "meta.date",
        &[
            ("year", &y.to_string()),
            ("month", &m.to_string()),
            ("day", &d.to_string()),
            ("mm", &format!("{m:02}")),
            ("dd", &format!("{d:02}")),
        ],
    )
}

/// Year, month and day (UTC) of a time in microseconds since 1970.
pub fn ymd(micros: i64) -> Option<(i32, u8, u8)> {
    let t = time::OffsetDateTime::from_unix_timestamp(micros.div_euclid(1_000_000)).ok()?;
    Some((t.year(), u8::from(t.month()), t.day()))
}

/// Placeholders (`{name}`) of a text, for the tests of the translations.
pub fn placeholders(text: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else { break };
        *out.entry(after[..close].to_string()).or_default() += 1;
        rest = &after[close + 1..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_translations_parse() {
        for (code, text) in EMBEDDED {
            let t = parse(text, code).unwrap();
            assert!(t.len() > 20, "{code}: {} keys", t.len());
        }
    }

    #[test]
    fn every_english_key_is_translated_with_the_same_placeholders() {
        let c = Catalog::builtin();
        let en = c.keys(Lang::En);
        for lang in [Lang::Ja, Lang::De] {
            let theirs = c.keys(lang);
            for k in &en {
                assert!(theirs.contains(k), "{}: {k} missing", lang.code());
                let (a, b) = (&c.tables[0][*k], &c.tables[lang.index()][*k]);
                match (a, b) {
                    // A date is written in each language's own order.
                    (Entry::Text(_), Entry::Text(b)) if *k == "meta.date" => {
                        assert!(b.contains("{year}"), "{}: {k}", lang.code());
                    }
                    (Entry::Text(a), Entry::Text(b)) => {
                        assert_eq!(placeholders(a), placeholders(b), "{}: {k}", lang.code());
                        assert!(!b.trim().is_empty(), "{}: {k} empty", lang.code());
                    }
                    (Entry::List(a), Entry::List(b)) => {
                        assert!(!b.is_empty(), "{}: {k} empty", lang.code());
                        let all = |l: &[String]| placeholders(&l.join(" "));
                        assert_eq!(all(a), all(b), "{}: {k}", lang.code());
                    }
                    _ => panic!(
                        "{}: {k}: a text in one file, a list in the other",
                        lang.code()
                    ),
                }
            }
            for k in &theirs {
                assert!(en.contains(k), "{}: {k} is not an English key", lang.code());
            }
        }
    }

    #[test]
    fn every_template_key_exists_in_english() {
        let c = Catalog::builtin();
        let dynamic = [
            "lang",
            "switch",
            "token",
            "result",
            "check_link",
            "form_action",
            "scan_href",
            "messages",
        ];
        for (name, t) in [
            ("index.html", crate::web::INDEX),
            ("check.html", crate::web::CHECK),
        ] {
            let mut rest = t;
            while let Some(open) = rest.find("{{") {
                let after = &rest[open + 2..];
                let close = after.find("}}").unwrap();
                let key = after[..close].trim();
                assert!(
                    dynamic.contains(&key) || c.entry(Lang::En, key).is_some(),
                    "{name}: {{{{{key}}}}} has no English text"
                );
                rest = &after[close + 2..];
            }
        }
    }

    #[test]
    fn accept_language_follows_q_values() {
        assert_eq!(accept_language("ja"), Some(Lang::Ja));
        assert_eq!(accept_language("de-AT, en;q=0.5"), Some(Lang::De));
        assert_eq!(accept_language("fr, de;q=0.5, ja;q=0.9"), Some(Lang::Ja));
        assert_eq!(accept_language("en;q=0.8, ja;q=0.8"), Some(Lang::En));
        assert_eq!(accept_language("ja;q=0, de;q=0.1"), Some(Lang::De));
        assert_eq!(accept_language("ja;q=0"), None);
        assert_eq!(accept_language("*"), None);
        assert_eq!(accept_language("fr-CH, fr;q=0.9"), None);
        // Malformed q-values drop their entry only.
        assert_eq!(accept_language("ja;q=2, de;q=0.3"), Some(Lang::De));
        assert_eq!(
            accept_language("ja;q=0.1234, de;q=x, en;q=0.2"),
            Some(Lang::En)
        );
        assert_eq!(accept_language("JA-jp ; Q=0.7"), Some(Lang::Ja));
        assert_eq!(accept_language(""), None);
        // Only the first entries of a hostile header are looked at.
        let long = format!("{}ja", "fr,".repeat(1000));
        assert_eq!(accept_language(&long), None);
    }

    #[test]
    fn switch_over_cookie_over_header() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_LANGUAGE, HeaderValue::from_static("de"));
        assert_eq!(choose(None, &h), (Lang::De, Source::Header));
        h.insert(header::COOKIE, HeaderValue::from_static("a=b; lang=ja"));
        assert_eq!(choose(None, &h), (Lang::Ja, Source::Cookie));
        assert_eq!(choose(Some("x=1&lang=en"), &h), (Lang::En, Source::Query));
        assert_eq!(choose(Some("lang=xx"), &h), (Lang::Ja, Source::Cookie));
        assert_eq!(choose(None, &HeaderMap::new()), (Lang::En, Source::Default));
    }

    #[test]
    fn interpolation_escapes_text_and_values() {
        assert_eq!(
            interpolate("<b>{a}</b> {b} {c", &[("a", "<i>"), ("b", "{a}")]),
            "&lt;b&gt;&lt;i&gt;&lt;/b&gt; {a} {c"
        );
        assert_eq!(interpolate("{x}{y}", &[("y", "1")]), "{x}1");
    }

    #[test]
    fn missing_keys_fall_back_to_english_and_lang_dir_overrides() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("de.toml"),
            "[check]\nheading = \"Eigene <Prüfung>\"\n",
        )
        .unwrap();
        let c = Catalog::load(Some(dir.path())).unwrap();
        assert_eq!(c.text(Lang::De, "check.heading"), "Eigene <Prüfung>");
        assert_eq!(
            c.text(Lang::De, "check.not_listed"),
            Catalog::builtin().text(Lang::De, "check.not_listed")
        );
        let t = Texts {
            catalog: &c,
            lang: Lang::De,
        };
        assert_eq!(t.html("check.heading"), "Eigene &lt;Prüfung&gt;");
        // A key no language has shows itself.
        assert_eq!(c.text(Lang::Ja, "no.such.key"), "no.such.key");
        // English fallback for a key only English has.
        let mut c2 = Catalog::builtin();
        c2.tables[1].remove("check.heading");
        assert_eq!(
            c2.text(Lang::Ja, "check.heading"),
            c2.text(Lang::En, "check.heading")
        );
        // A broken file is an error naming it.
        std::fs::write(dir.path().join("ja.toml"), "[check\n").unwrap();
        let e = Catalog::load(Some(dir.path())).unwrap_err().to_string();
        assert!(e.contains("ja.toml"), "{e}");
        std::fs::write(dir.path().join("ja.toml"), "x = 1\n").unwrap();
        assert!(Catalog::load(Some(dir.path())).is_err());
    }

    #[test]
    fn dates_in_each_language() {
        let c = Catalog::builtin();
        // 2026-03-05T10:00:00Z
        let t = 1_772_704_800_000_000;
        let d = |lang| date(Texts { catalog: &c, lang }, t);
        assert_eq!(d(Lang::En), "2026-03-05");
        assert_eq!(d(Lang::Ja), "2026年3月5日");
        assert_eq!(d(Lang::De), "05.03.2026");
    }
}
