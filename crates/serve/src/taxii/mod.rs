//! A TAXII 2.1 server inside `takedown serve`: discovery, one API root,
//! configured collections with read and write permissions per bearer
//! token, objects (with `added_after`, `match[...]`, `limit`/`next`),
//! manifest, versions, delete and status, the objects kept in SQLite
//! ([`store`]) so that partners' posts survive restarts and kills.
//!
//! [`TaxiiConfig`] is the `[taxii]` section of the configuration file;
//! [`TaxiiConfig::validate`] makes it [`TaxiiSettings`]; [`Taxii::open`]
//! opens the store; [`routes::router`] serves it. [`publish`] adds the
//! service's own scan sightings to a collection (off by default).
//! docs/taxii.md describes the behaviour and what the specification
//! leaves to the server.

pub mod publish;
pub mod routes;
pub mod store;

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use store::Store;

/// The TAXII media type (requests' `Accept` and POSTs' `Content-Type`,
/// every answer's `Content-Type`).
pub const MEDIA_TYPE_TAXII: &str = "application/taxii+json;version=2.1";
/// The STIX media type of the objects a collection holds.
pub const MEDIA_TYPE_STIX: &str = "application/stix+json;version=2.1";

/// Default URL prefix (discovery is served there).
pub const DEFAULT_PREFIX: &str = "/taxii2/";
/// Default API root name, below the prefix.
pub const DEFAULT_API_ROOT: &str = "api";

/// Largest `max_content_length` accepted: a POST body is held in memory
/// while it is parsed, once per POST admitted at a time.
const MAX_CONTENT_LENGTH_CAP: u64 = 1 << 30;

/// Top of `max_page_size`: a page is built in memory.
const MAX_PAGE_SIZE_CAP: usize = 100_000;

/// First URL segments the rest of the service uses: a prefix there would
/// hide them.
const RESERVED: &[&str] = &["v1", "static", "healthz", "metrics"];

/// `[taxii]`, as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TaxiiConfig {
    /// Serve TAXII (off by default).
    pub enabled: bool,
    /// The SQLite database. Relative paths in a configuration file are
    /// taken from the file's directory (the CLI resolves them); the CLI's
    /// default is `/var/lib/takedown/taxii.sqlite3` for root, else
    /// `$XDG_DATA_HOME/takedown/taxii.sqlite3`.
    pub db: Option<PathBuf>,
    /// URL prefix of discovery (`/taxii2/`).
    pub prefix: String,
    /// Name of the one API root below the prefix (`api`).
    pub api_root: String,
    /// Discovery and API root title.
    pub title: String,
    /// Discovery and API root description.
    pub description: String,
    /// Discovery contact.
    pub contact: Option<String>,
    /// Largest POST body (the API root's `max_content_length`).
    pub max_content_length: String,
    /// Largest `limit` a client may ask for; also the page size when it
    /// asks for none.
    pub max_page_size: usize,
    /// Bearer tokens by name: `name = "token"` (at least 16 printable
    /// characters). Collections grant rights to names.
    pub tokens: BTreeMap<String, String>,
    /// The collections.
    pub collections: Vec<CollectionConfig>,
    /// Publish the sightings of the service's own scans into this
    /// collection (its id); off when absent (see [`publish`]).
    pub publish_sightings: Option<String>,
    /// TLP marking of the published objects.
    pub publish_tlp: String,
    /// Producer named in the published objects (their STIX identity).
    pub publish_producer: String,
    /// Name the scanning client's address as the host where a sample was
    /// sighted (off: every sighting is "takedown serve"; the address of a
    /// client is personal data in many jurisdictions).
    pub publish_client_address: bool,
    /// Scans waiting to be published; more are dropped and counted.
    pub publish_queue: usize,
}

impl Default for TaxiiConfig {
    fn default() -> Self {
        TaxiiConfig {
            enabled: false,
            db: None,
            prefix: DEFAULT_PREFIX.into(),
            api_root: DEFAULT_API_ROOT.into(),
            title: "takedown TAXII".into(),
            description: "Indicators and sightings exchanged by the takedown operation".into(),
            contact: None,
            max_content_length: "10M".into(),
            max_page_size: 1000,
            tokens: BTreeMap::new(),
            collections: Vec::new(),
            publish_sightings: None,
            publish_tlp: publish::DEFAULT_TLP.into(),
            publish_producer: publish::DEFAULT_PRODUCER.into(),
            publish_client_address: false,
            publish_queue: publish::DEFAULT_QUEUE,
        }
    }
}

/// `[[taxii.collections]]`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CollectionConfig {
    /// A UUID.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// Alias (a short name clients may show).
    #[serde(default)]
    pub alias: Option<String>,
    /// Token names that may read; `"*"`: every caller (see docs/taxii.md).
    #[serde(default)]
    pub read: Vec<String>,
    /// Token names that may write (and delete); `"*"` as for `read`.
    #[serde(default)]
    pub write: Vec<String>,
}

/// Who may do something on a collection.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Grant {
    /// `"*"` was given.
    pub everyone: bool,
    /// Indexes into [`TaxiiSettings::tokens`].
    pub names: Vec<usize>,
}

/// A validated collection.
#[derive(Clone, Debug)]
pub struct Collection {
    /// Its UUID, lowercase.
    pub id: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: Option<String>,
    /// Alias.
    pub alias: Option<String>,
    /// Readers.
    pub read: Grant,
    /// Writers.
    pub write: Grant,
}

/// Validated `[taxii]`.
#[derive(Clone, Debug)]
pub struct TaxiiSettings {
    /// The database file.
    pub db: PathBuf,
    /// The prefix without its trailing slash (`/taxii2`).
    pub prefix: String,
    /// The API root name.
    pub api_root: String,
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Contact.
    pub contact: Option<String>,
    /// Largest POST body.
    pub max_content_length: u64,
    /// Largest page.
    pub max_page_size: usize,
    /// `(name, token)` pairs.
    pub tokens: Vec<(String, String)>,
    /// The collections.
    pub collections: Vec<Collection>,
    /// Publishing of scan sightings, when on.
    pub publish: Option<publish::PublishSettings>,
}

impl TaxiiConfig {
    /// Checks every value; `None` when TAXII is off. `serve_tokens` are the
    /// service's own tokens (a TAXII token may not repeat one: a token must
    /// name one caller).
    pub fn validate(&self, serve_tokens: &[String]) -> anyhow::Result<Option<TaxiiSettings>> {
        if !self.enabled {
            if self.publish_sightings.is_some() {
                anyhow::bail!(
                    "taxii.publish_sightings: TAXII is off (set taxii.enabled or --taxii)"
                );
            }
            return Ok(None);
        }
        let db = self.db.clone().ok_or_else(|| {
            anyhow::anyhow!("taxii.db: no database path (give taxii.db or --taxii-db)")
        })?;
        let prefix = normalize_prefix(&self.prefix)?;
        if !is_segment(&self.api_root) {
            anyhow::bail!(
                "taxii.api_root: '{}' must be one URL segment of letters, digits, '.', '_' or '-'",
                self.api_root
            );
        }
        let max_content_length = takedown_engine::size::parse(&self.max_content_length)
            .map_err(|e| anyhow::anyhow!("taxii.max_content_length: {e}"))?;
        if !(1..=MAX_CONTENT_LENGTH_CAP).contains(&max_content_length) {
            anyhow::bail!("taxii.max_content_length: between 1 byte and 1G");
        }
        if !(1..=MAX_PAGE_SIZE_CAP).contains(&self.max_page_size) {
            anyhow::bail!("taxii.max_page_size: between 1 and {MAX_PAGE_SIZE_CAP}");
        }
        let mut tokens = Vec::new();
        for (name, token) in &self.tokens {
            if !is_segment(name) {
                anyhow::bail!(
                    "taxii.tokens: the name '{name}' must be letters, digits, '.', '_' or '-'"
                );
            }
            if token.len() < 16 || !token.bytes().all(|b| b.is_ascii_graphic()) {
                anyhow::bail!(
                    "taxii.tokens.{name}: a token must be at least 16 printable ASCII characters without spaces"
                );
            }
            if tokens.iter().any(|(_, t)| t == token) || serve_tokens.contains(token) {
                anyhow::bail!("taxii.tokens.{name}: the same token is given to another name");
            }
            tokens.push((name.clone(), token.clone()));
        }
        if self.collections.is_empty() {
            anyhow::bail!("taxii: enabled but no [[taxii.collections]] configured");
        }
        let mut collections: Vec<Collection> = Vec::new();
        for c in &self.collections {
            let id = c.id.to_ascii_lowercase();
            if !is_uuid(&id) {
                anyhow::bail!("taxii.collections: id '{}' is not a UUID", c.id);
            }
            if collections.iter().any(|o| o.id == id) {
                anyhow::bail!("taxii.collections: id {id} is given twice");
            }
            if c.title.trim().is_empty() {
                anyhow::bail!("taxii.collections {id}: title is empty");
            }
            let grant = |list: &[String], what: &str| -> anyhow::Result<Grant> {
                let mut g = Grant::default();
                for n in list {
                    if n == "*" {
                        g.everyone = true;
                    } else if let Some(i) = tokens.iter().position(|(name, _)| name == n) {
                        g.names.push(i);
                    } else {
                        anyhow::bail!(
                            "taxii.collections {id}: {what} names '{n}', which is not in [taxii.tokens]"
                        );
                    }
                }
                Ok(g)
            };
            collections.push(Collection {
                read: grant(&c.read, "read")?,
                write: grant(&c.write, "write")?,
                id,
                title: c.title.clone(),
                description: c.description.clone(),
                alias: c.alias.clone(),
            });
        }
        let publish = self.validate_publish(&collections)?;
        Ok(Some(TaxiiSettings {
            db,
            prefix,
            api_root: self.api_root.clone(),
            title: self.title.clone(),
            description: self.description.clone(),
            contact: self.contact.clone(),
            max_content_length,
            max_page_size: self.max_page_size,
            tokens,
            collections,
            publish,
        }))
    }

    /// The `publish_*` keys; `None` when `publish_sightings` is absent.
    fn validate_publish(
        &self,
        collections: &[Collection],
    ) -> anyhow::Result<Option<publish::PublishSettings>> {
        let Some(id) = &self.publish_sightings else {
            return Ok(None);
        };
        let id = id.trim().to_ascii_lowercase();
        if !collections.iter().any(|c| c.id == id) {
            anyhow::bail!(
                "taxii.publish_sightings: '{}' is not the id of a [[taxii.collections]]",
                self.publish_sightings.as_deref().unwrap_or_default()
            );
        }
        let tlp = takedown_intel::Tlp::parse(&self.publish_tlp).ok_or_else(|| {
            anyhow::anyhow!(
                "taxii.publish_tlp: '{}' is not clear, green, amber, amber+strict or red",
                self.publish_tlp
            )
        })?;
        let producer = self.publish_producer.trim();
        if producer.is_empty()
            || producer.len() > publish::MAX_PRODUCER
            || producer.chars().any(char::is_control)
        {
            anyhow::bail!(
                "taxii.publish_producer: 1 to {} characters, no control characters",
                publish::MAX_PRODUCER
            );
        }
        if !(1..=publish::MAX_QUEUE).contains(&self.publish_queue) {
            anyhow::bail!("taxii.publish_queue: between 1 and {}", publish::MAX_QUEUE);
        }
        Ok(Some(publish::PublishSettings {
            collection: id,
            tlp,
            producer: producer.to_string(),
            client_address: self.publish_client_address,
            queue: self.publish_queue,
        }))
    }

    /// Whether TAXII is on with tokens of its own (so that a listener
    /// beyond loopback is not open to anyone).
    pub fn has_tokens(&self) -> bool {
        self.enabled && !self.tokens.is_empty()
    }
}

/// `/taxii2/` -> `/taxii2`; refuses what would clash with other routes.
fn normalize_prefix(p: &str) -> anyhow::Result<String> {
    let trimmed = p.trim_matches('/');
    let segments: Vec<&str> = trimmed.split('/').collect();
    if trimmed.is_empty() || !segments.iter().all(|s| is_segment(s)) {
        anyhow::bail!(
            "taxii.prefix: '{p}' must be a path such as /taxii2/ (segments of letters, digits, '.', '_' or '-')"
        );
    }
    if segments.first().is_some_and(|s| RESERVED.contains(s)) {
        anyhow::bail!(
            "taxii.prefix: '{p}' would hide the service's own /{} endpoints",
            segments[0]
        );
    }
    Ok(format!("/{trimmed}"))
}

fn is_segment(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub use takedown_intel::model::is_uuid;

/// A random (version 4) UUID, for status ids.
pub fn random_uuid() -> String {
    let mut b = [0u8; 16];
    // The operating system's generator, on every platform (as the bundle
    // keys and the vault use it).
    if getrandom::fill(&mut b).is_err() {
        // No generator (a sandbox): a status id must only be unique,
        // and the clock and a counter make it so.
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        b[..8].copy_from_slice(&store::now_micros().to_le_bytes());
        b[8..].copy_from_slice(&n.to_le_bytes());
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The running TAXII server: settings and store.
pub struct Taxii {
    /// Validated settings.
    pub settings: TaxiiSettings,
    /// The objects.
    pub store: Arc<Store>,
    /// POSTs being received or stored at once; more wait (bounded memory:
    /// each holds a body of up to `max_content_length`).
    pub posts: Arc<tokio::sync::Semaphore>,
    /// Store reads at once (each holds a blocking thread and a page).
    pub reads: Arc<tokio::sync::Semaphore>,
}

/// POSTs admitted at once.
const CONCURRENT_POSTS: usize = 4;
/// Store reads at once.
const CONCURRENT_READS: usize = 16;

impl Taxii {
    /// Opens the store.
    pub fn open(settings: TaxiiSettings) -> anyhow::Result<Taxii> {
        let store = Store::open(&settings.db)?;
        tracing::info!(
            db = %settings.db.display(),
            collections = settings.collections.len(),
            "TAXII 2.1 at {}/",
            settings.prefix
        );
        Ok(Taxii {
            settings,
            store: Arc::new(store),
            posts: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_POSTS)),
            reads: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_READS)),
        })
    }

    /// The collection with this id.
    pub fn collection(&self, id: &str) -> Option<&Collection> {
        self.settings.collections.iter().find(|c| c.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<Option<TaxiiSettings>> {
        #[derive(Deserialize)]
        struct W {
            taxii: TaxiiConfig,
        }
        let w: W = toml::from_str(text)?;
        w.taxii.validate(&["serve-token-0123456789".into()])
    }

    const OK: &str = r#"
        [taxii]
        enabled = true
        db = "/tmp/x.sqlite3"
        [taxii.tokens]
        cert = "cert-token-0123456789"
        [[taxii.collections]]
        id = "9B1C1A4E-0000-4000-8000-000000000001"
        title = "Indicators"
        read = ["*"]
        write = ["cert"]
    "#;

    #[test]
    fn config_is_validated() {
        let s = parse(OK).unwrap().unwrap();
        assert_eq!(s.prefix, "/taxii2");
        assert_eq!(s.collections[0].id, "9b1c1a4e-0000-4000-8000-000000000001");
        assert!(s.collections[0].read.everyone);
        assert_eq!(s.collections[0].write.names, [0]);
        assert!(parse("[taxii]\nenabled = false").unwrap().is_none());
        let bad = |from: &str, to: &str| parse(&OK.replace(from, to)).unwrap_err().to_string();
        assert!(bad("[\"cert\"]", "[\"nobody\"]").contains("nobody"));
        assert!(bad("9B1C1A4E-0000", "9B1C1A4E-000X").contains("UUID"));
        assert!(bad("cert-token-0123456789", "short").contains("16"));
        assert!(bad("cert-token-0123456789", "serve-token-0123456789").contains("another"));
        assert!(bad("enabled = true", "enabled = true\nprefix = \"/v1/x\"").contains("/v1"));
        assert!(bad("enabled = true", "enabled = true\napi_root = \"a/b\"").contains("api_root"));
        assert!(bad("db = \"/tmp/x.sqlite3\"", "").contains("taxii.db"));
        assert!(s.publish.is_none(), "publishing is off by default");
    }

    #[test]
    fn publishing_is_validated() {
        let with =
            |keys: &str| parse(&OK.replace("enabled = true", &format!("enabled = true\n{keys}")));
        let p = with("publish_sightings = \"9b1c1a4e-0000-4000-8000-000000000001\"")
            .unwrap()
            .unwrap()
            .publish
            .unwrap();
        assert_eq!(p.collection, "9b1c1a4e-0000-4000-8000-000000000001");
        assert_eq!(p.tlp, takedown_intel::Tlp::Amber);
        assert_eq!(p.producer, "takedown");
        assert!(!p.client_address);
        assert_eq!(p.queue, publish::DEFAULT_QUEUE);
        let err = |keys: &str| with(keys).unwrap_err().to_string();
        let e = err("publish_sightings = \"9b1c1a4e-0000-4000-8000-0000000000ff\"");
        assert!(
            e.contains("taxii.publish_sightings") && e.contains("0000000000ff"),
            "{e}"
        );
        let id = "publish_sightings = \"9B1C1A4E-0000-4000-8000-000000000001\"";
        assert!(err(&format!("{id}\npublish_tlp = \"purple\"")).contains("publish_tlp"));
        assert!(err(&format!("{id}\npublish_queue = 0")).contains("publish_queue"));
        assert!(err(&format!("{id}\npublish_producer = \" \"")).contains("publish_producer"));
        let off = parse(&OK.replace(
            "enabled = true",
            "enabled = false\npublish_sightings = \"9b1c1a4e-0000-4000-8000-000000000001\"",
        ))
        .unwrap_err()
        .to_string();
        assert!(off.contains("TAXII is off"), "{off}");
    }

    #[test]
    fn uuids() {
        let u = random_uuid();
        assert!(is_uuid(&u), "{u}");
        assert_eq!(&u[14..15], "4");
        assert_ne!(u, random_uuid());
        assert!(!is_uuid("not-a-uuid"));
    }
}
