//! The TAXII object store: one SQLite database in WAL mode.
//!
//! * `objects`: one row per object version, primary key
//!   `(collection, id, version)`, the object kept as the JSON text that was
//!   posted (minified once on the way in) and served as is, never parsed
//!   again. `date_added` is in microseconds and strictly increasing across
//!   the whole database (one writer assigns it), so a page boundary is a
//!   point in one total order: `(date_added, rowid)` keyset pagination,
//!   never `OFFSET`, and pages neither skip nor repeat rows while others
//!   write (a row committed later always sorts later).
//! * `statuses`: the status resource of every POST, written in the same
//!   transaction as its objects.
//!
//! Each POST is one `BEGIN IMMEDIATE` transaction: a kill at any moment
//! leaves all of its objects or none (SQLite's WAL recovery drops the
//! uncommitted frames). `synchronous=FULL` fsyncs the WAL at each commit:
//! a "complete" status is a promise to a partner who may then discard the
//! copy, so it must survive a power cut too, not only a crash of this
//! process (which NORMAL would already cover). The cost is one fsync per
//! request, not per object.
//!
//! Every call here blocks; the HTTP layer runs them on tokio's blocking
//! pool. Writes go through one connection behind a mutex (SQLite has one
//! writer anyway); reads take a connection from a small pool, and in WAL
//! mode never wait for the writer.

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Schema version kept in `PRAGMA user_version`; a database written by a
/// newer takedown is refused rather than misread.
const SCHEMA_VERSION: i64 = 1;

/// Idle read connections kept open; more are opened under load and closed
/// after use.
const MAX_IDLE_READERS: usize = 16;

/// Prepared statements cached per connection (filters make a few shapes of
/// query; each shape is prepared once).
const STATEMENT_CACHE: usize = 64;

/// How long a connection waits for a lock (a checkpoint, another process
/// opening the file) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Status resources older than this are removed (on the next POST): every
/// POST keeps one, and without an end the table would grow forever.
pub const STATUS_RETENTION: Duration = Duration::from_secs(7 * 24 * 3600);

/// A store error: the database file, and what SQLite said.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite failed.
    #[error("TAXII database {path}: {source}")]
    Sqlite {
        /// The database file.
        path: PathBuf,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The file was written by a newer takedown.
    #[error(
        "TAXII database {path}: schema version {found} is newer than this takedown's ({SCHEMA_VERSION})"
    )]
    Schema {
        /// The database file.
        path: PathBuf,
        /// The version found.
        found: i64,
    },
    /// Its directory could not be created.
    #[error("TAXII database {path}: cannot create its directory: {source}")]
    Dir {
        /// The database file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// One object to add, already validated.
#[derive(Clone, Debug)]
pub struct NewObject {
    /// `type--uuid`.
    pub id: String,
    /// The STIX type.
    pub kind: String,
    /// `spec_version` ("2.1").
    pub spec_version: String,
    /// Its version: `modified`, else `created` (microseconds and the text
    /// as written); `None`: versionless (the time added stands in).
    pub version: Option<(i64, String)>,
    /// The object's JSON text (minified).
    pub json: String,
}

/// What happened to one object of a POST.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Stored now.
    Added,
    /// The same id and version was there already (a success: nothing to do).
    AlreadyPresent,
}

/// The stored result of one object: id, version text, outcome.
#[derive(Clone, Debug)]
pub struct Added {
    /// Object id.
    pub id: String,
    /// Version text (`modified`, `created` or the date added).
    pub version: String,
    /// Added or already there.
    pub outcome: Outcome,
}

/// Which versions of each object a query returns (`match[version]`);
/// several are OR-ed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionFilter {
    /// Every version.
    pub all: bool,
    /// The latest (the default when nothing is asked).
    pub last: bool,
    /// The earliest.
    pub first: bool,
    /// These exact versions (microseconds).
    pub exact: Vec<i64>,
}

/// A position in the `(date_added, rowid)` order: the last row of a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor {
    /// Its date added (µs).
    pub date_added: i64,
    /// Its rowid.
    pub rowid: i64,
}

impl Cursor {
    /// The opaque text handed to clients as `next`.
    pub fn encode(&self) -> String {
        format!("{:x}.{:x}", self.date_added, self.rowid)
    }

    /// Parses [`Cursor::encode`]'s text; `None` for anything else.
    pub fn decode(s: &str) -> Option<Cursor> {
        let (a, b) = s.split_once('.')?;
        if a.is_empty() || b.is_empty() || a.len() > 16 || b.len() > 16 {
            return None;
        }
        Some(Cursor {
            date_added: i64::from_str_radix(a, 16).ok()?,
            rowid: i64::from_str_radix(b, 16).ok()?,
        })
    }
}

/// The filters and paging of a GET.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// `added_after` (µs): rows added strictly after it.
    pub added_after: Option<i64>,
    /// `next`: rows after this position.
    pub after: Option<Cursor>,
    /// Most rows to return (at least 1).
    pub limit: usize,
    /// `match[id]` (empty: any).
    pub ids: Vec<String>,
    /// `match[type]` (empty: any).
    pub types: Vec<String>,
    /// `match[version]`.
    pub versions: VersionFilter,
    /// `match[spec_version]` (empty: any).
    pub spec_versions: Vec<String>,
}

/// One page of rows, in `(date_added, rowid)` order.
#[derive(Debug, Default)]
pub struct Page<T> {
    /// The rows.
    pub items: Vec<T>,
    /// Whether more rows follow.
    pub more: bool,
    /// Where the next page starts (the last row's position), when `more`.
    pub next: Option<Cursor>,
    /// Date added of the first and last rows (µs).
    pub added_range: Option<(i64, i64)>,
}

/// A manifest entry.
#[derive(Clone, Debug)]
pub struct ManifestItem {
    /// Object id.
    pub id: String,
    /// Date added (µs).
    pub date_added: i64,
    /// Version text.
    pub version: String,
    /// Its spec version.
    pub spec_version: String,
}

/// The objects of a page as one JSON array body (`[obj,obj,...]`), the
/// stored texts joined without parsing.
#[derive(Debug, Default)]
pub struct ObjectsPage {
    /// `[` ... `]`.
    pub array: String,
    /// Rows in it.
    pub count: usize,
    /// Whether more rows follow.
    pub more: bool,
    /// The next page's start, when `more`.
    pub next: Option<Cursor>,
    /// Date added of the first and last rows (µs).
    pub added_range: Option<(i64, i64)>,
}

struct Writer {
    conn: Connection,
    /// The last date_added given out (µs): each new row gets a later one.
    last_added: i64,
}

/// The store.
pub struct Store {
    path: PathBuf,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Dir {
                path: path.to_path_buf(),
                source,
            })?;
        }
        let err = |source| StoreError::Sqlite {
            path: path.to_path_buf(),
            source,
        };
        let conn = open_conn(path).map_err(err)?;
        let found: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(err)?;
        if found > SCHEMA_VERSION {
            return Err(StoreError::Schema {
                path: path.to_path_buf(),
                found,
            });
        }
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             BEGIN;
             CREATE TABLE IF NOT EXISTS objects (
                 collection   TEXT    NOT NULL,
                 id           TEXT    NOT NULL,
                 version      INTEGER NOT NULL,
                 version_text TEXT    NOT NULL,
                 date_added   INTEGER NOT NULL,
                 spec_version TEXT    NOT NULL,
                 type         TEXT    NOT NULL,
                 json         TEXT    NOT NULL,
                 PRIMARY KEY (collection, id, version)
             );
             CREATE INDEX IF NOT EXISTS objects_by_added ON objects (collection, date_added);
             CREATE TABLE IF NOT EXISTS statuses (
                 id         TEXT    PRIMARY KEY,
                 collection TEXT    NOT NULL,
                 created    INTEGER NOT NULL,
                 json       TEXT    NOT NULL
             );
             CREATE INDEX IF NOT EXISTS statuses_by_created ON statuses (created);
             PRAGMA user_version = 1;
             COMMIT;",
        )
        .map_err(err)?;
        let mode: String = conn
            .pragma_query_value(None, "journal_mode", |r| r.get(0))
            .map_err(err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            tracing::warn!(
                "TAXII database {}: journal mode is {mode}, not WAL (a file system without shared memory?)",
                path.display()
            );
        }
        let last_added: i64 = conn
            .query_row(
                "SELECT coalesce(max(date_added), 0) FROM objects",
                [],
                |r| r.get(0),
            )
            .map_err(err)?;
        Ok(Store {
            path: path.to_path_buf(),
            writer: Mutex::new(Writer { conn, last_added }),
            readers: Mutex::new(Vec::new()),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    /// Runs `f` on a read connection from the pool.
    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> Result<T, StoreError> {
        let pooled = self.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
        let conn = match pooled {
            Some(c) => c,
            None => {
                let c = open_conn(&self.path).map_err(|e| self.err(e))?;
                // A reader never writes, whatever a bug would try.
                c.pragma_update(None, "query_only", true)
                    .map_err(|e| self.err(e))?;
                c
            }
        };
        let result = f(&conn).map_err(|e| self.err(e));
        let mut pool = self.readers.lock().unwrap_or_else(|p| p.into_inner());
        if pool.len() < MAX_IDLE_READERS {
            pool.push(conn);
        }
        result
    }

    /// Adds the objects of one POST and its status resource in one
    /// transaction; returns what happened to each object, in order.
    /// `status` builds the status JSON from those outcomes.
    pub fn add(
        &self,
        collection: &str,
        objects: &[NewObject],
        now: i64,
        status_id: &str,
        status: impl FnOnce(&[Added]) -> String,
    ) -> Result<Vec<Added>, StoreError> {
        let mut w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut last = w.last_added;
        let result = (|| -> rusqlite::Result<Vec<Added>> {
            let tx = w
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut out = Vec::with_capacity(objects.len());
            {
                let mut exists = tx.prepare_cached(
                    "SELECT 1 FROM objects WHERE collection = ?1 AND id = ?2 LIMIT 1",
                )?;
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO objects
                     (collection, id, version, version_text, date_added, spec_version, type, json)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                )?;
                for o in objects {
                    // Strictly increasing across the database: the page
                    // order is total and `added_after` never splits a tie.
                    let added = now.max(last.saturating_add(1));
                    let (version, text) = match &o.version {
                        Some((v, t)) => (*v, t.clone()),
                        None => {
                            // Versionless (SCOs, marking definitions): one
                            // version per id, the time it was first added.
                            if exists.exists(params![collection, o.id])? {
                                out.push(Added {
                                    id: o.id.clone(),
                                    version: String::new(),
                                    outcome: Outcome::AlreadyPresent,
                                });
                                continue;
                            }
                            (added, format_micros(added))
                        }
                    };
                    let n = insert.execute(params![
                        collection,
                        o.id,
                        version,
                        text,
                        added,
                        o.spec_version,
                        o.kind,
                        o.json
                    ])?;
                    if n == 1 {
                        last = added;
                    }
                    out.push(Added {
                        id: o.id.clone(),
                        version: text,
                        outcome: if n == 1 {
                            Outcome::Added
                        } else {
                            Outcome::AlreadyPresent
                        },
                    });
                }
            }
            // The version text of a versionless object already present is
            // the one stored.
            for a in out.iter_mut().filter(|a| a.version.is_empty()) {
                a.version = tx.query_row(
                    "SELECT version_text FROM objects WHERE collection = ?1 AND id = ?2
                     ORDER BY version LIMIT 1",
                    params![collection, a.id],
                    |r| r.get(0),
                )?;
            }
            let json = status(&out);
            tx.execute(
                "INSERT INTO statuses (id, collection, created, json) VALUES (?1, ?2, ?3, ?4)",
                params![status_id, collection, now, json],
            )?;
            let horizon = now.saturating_sub(STATUS_RETENTION.as_micros() as i64);
            tx.execute("DELETE FROM statuses WHERE created < ?1", params![horizon])?;
            tx.commit()?;
            Ok(out)
        })();
        match result {
            Ok(out) => {
                w.last_added = last;
                Ok(out)
            }
            Err(e) => Err(self.err(e)),
        }
    }

    /// A status resource: its collection and JSON.
    pub fn status(&self, id: &str) -> Result<Option<(String, String)>, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT collection, json FROM statuses WHERE id = ?1")?
                .query_row(params![id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
    }

    /// Whether any version of `id` is in `collection`.
    pub fn exists(&self, collection: &str, id: &str) -> Result<bool, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT 1 FROM objects WHERE collection = ?1 AND id = ?2 LIMIT 1")?
                .exists(params![collection, id])
        })
    }

    /// Rows (every version) in `collection`.
    pub fn count(&self, collection: &str) -> Result<u64, StoreError> {
        self.read(|c| {
            c.prepare_cached("SELECT count(*) FROM objects WHERE collection = ?1")?
                .query_row(params![collection], |r| r.get::<_, i64>(0))
        })
        .map(|n| n.max(0).unsigned_abs())
    }

    /// A page of objects as one JSON array of the stored texts. Stops
    /// early (with `more`) once the page holds `max_bytes`, after at least
    /// one object.
    pub fn objects(
        &self,
        collection: &str,
        q: &Query,
        max_bytes: usize,
    ) -> Result<ObjectsPage, StoreError> {
        let (sql, args) = select(collection, q, "o.json");
        self.read(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let mut rows = st.query(rusqlite::params_from_iter(args))?;
            let mut page = ObjectsPage {
                array: String::from("["),
                ..ObjectsPage::default()
            };
            let mut last: Option<Cursor> = None;
            while let Some(r) = rows.next()? {
                if page.count == q.limit || (page.count > 0 && page.array.len() >= max_bytes) {
                    page.more = true;
                    page.next = last;
                    break;
                }
                let cur = Cursor {
                    date_added: r.get(0)?,
                    rowid: r.get(1)?,
                };
                let json = r.get_ref(2)?.as_str()?;
                if page.count > 0 {
                    page.array.push(',');
                }
                page.array.push_str(json);
                page.count += 1;
                page.added_range = Some(match page.added_range {
                    None => (cur.date_added, cur.date_added),
                    Some((first, _)) => (first, cur.date_added),
                });
                last = Some(cur);
            }
            page.array.push(']');
            Ok(page)
        })
    }

    /// A page of manifest entries.
    pub fn manifest(&self, collection: &str, q: &Query) -> Result<Page<ManifestItem>, StoreError> {
        let (sql, args) = select(collection, q, "o.id, o.version_text, o.spec_version");
        self.read(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
                Ok((
                    Cursor {
                        date_added: r.get(0)?,
                        rowid: r.get(1)?,
                    },
                    ManifestItem {
                        id: r.get(2)?,
                        date_added: r.get(0)?,
                        version: r.get(3)?,
                        spec_version: r.get(4)?,
                    },
                ))
            })?;
            paginate(rows, q.limit)
        })
    }

    /// A page of the versions of one object (version texts).
    pub fn versions(
        &self,
        collection: &str,
        id: &str,
        q: &Query,
    ) -> Result<Page<String>, StoreError> {
        let q = Query {
            ids: vec![id.to_string()],
            types: Vec::new(),
            versions: VersionFilter {
                all: true,
                ..VersionFilter::default()
            },
            ..q.clone()
        };
        let (sql, args) = select(collection, &q, "o.version_text");
        self.read(|c| {
            let mut st = c.prepare_cached(&sql)?;
            let rows = st.query_map(rusqlite::params_from_iter(args), |r| {
                Ok((
                    Cursor {
                        date_added: r.get(0)?,
                        rowid: r.get(1)?,
                    },
                    r.get::<_, String>(2)?,
                ))
            })?;
            paginate(rows, q.limit)
        })
    }

    /// Deletes the versions of `id` that `q`'s version and spec-version
    /// filters select; returns how many rows went.
    pub fn delete(&self, collection: &str, id: &str, q: &Query) -> Result<usize, StoreError> {
        let q = Query {
            ids: vec![id.to_string()],
            types: Vec::new(),
            added_after: None,
            after: None,
            limit: usize::MAX,
            ..q.clone()
        };
        let (cond, mut args) = conditions(&q);
        let sql = format!("DELETE FROM objects AS o WHERE o.collection = ? AND {cond}");
        args.insert(0, Value::Text(collection.to_string()));
        let w = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        w.conn
            .prepare_cached(&sql)
            .and_then(|mut st| st.execute(rusqlite::params_from_iter(args)))
            .map_err(|e| self.err(e))
    }
}

fn open_conn(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

/// Collects up to `limit` rows; `more` when another follows.
fn paginate<T>(
    rows: impl Iterator<Item = rusqlite::Result<(Cursor, T)>>,
    limit: usize,
) -> rusqlite::Result<Page<T>> {
    let mut page = Page {
        items: Vec::new(),
        more: false,
        next: None,
        added_range: None,
    };
    let mut last = None;
    for r in rows {
        let (cur, item) = r?;
        if page.items.len() == limit {
            page.more = true;
            page.next = last;
            break;
        }
        page.added_range = Some(match page.added_range {
            None => (cur.date_added, cur.date_added),
            Some((first, _)) => (first, cur.date_added),
        });
        last = Some(cur);
        page.items.push(item);
    }
    Ok(page)
}

/// `SELECT date_added, rowid, <columns>` for a page of `q`, one row more
/// than the limit (to know whether more follow).
fn select(collection: &str, q: &Query, columns: &str) -> (String, Vec<Value>) {
    let (cond, cond_args) = conditions(q);
    let mut args = vec![Value::Text(collection.to_string())];
    args.extend(cond_args);
    let mut sql = format!(
        "SELECT o.date_added, o.rowid, {columns} FROM objects AS o
         WHERE o.collection = ? AND {cond}"
    );
    if let Some(after) = q.after {
        sql.push_str(" AND (o.date_added, o.rowid) > (?, ?)");
        args.push(Value::Integer(after.date_added));
        args.push(Value::Integer(after.rowid));
    }
    sql.push_str(" ORDER BY o.date_added, o.rowid LIMIT ?");
    let limit = i64::try_from(q.limit.saturating_add(1)).unwrap_or(i64::MAX);
    args.push(Value::Integer(limit));
    (sql, args)
}

/// The WHERE conditions of `q` besides the collection and the cursor.
fn conditions(q: &Query) -> (String, Vec<Value>) {
    let mut parts: Vec<String> = vec!["1".into()];
    let mut args = Vec::new();
    let list = |n: usize| vec!["?"; n].join(",");
    if let Some(t) = q.added_after {
        parts.push("o.date_added > ?".into());
        args.push(Value::Integer(t));
    }
    if !q.ids.is_empty() {
        parts.push(format!("o.id IN ({})", list(q.ids.len())));
        args.extend(q.ids.iter().cloned().map(Value::Text));
    }
    if !q.types.is_empty() {
        parts.push(format!("o.type IN ({})", list(q.types.len())));
        args.extend(q.types.iter().cloned().map(Value::Text));
    }
    let spec = |alias: &str, args: &mut Vec<Value>| -> String {
        if q.spec_versions.is_empty() {
            String::new()
        } else {
            args.extend(q.spec_versions.iter().cloned().map(Value::Text));
            format!(
                " AND {alias}.spec_version IN ({})",
                list(q.spec_versions.len())
            )
        }
    };
    let s = spec("o", &mut args);
    if !s.is_empty() {
        parts.push(s.trim_start_matches(" AND ").to_string());
    }
    let v = &q.versions;
    let default_last = !v.all && !v.first && v.exact.is_empty();
    if !v.all {
        let mut ors = Vec::new();
        for (on, agg) in [(v.last || default_last, "max"), (v.first, "min")] {
            if on {
                let inner = spec("m", &mut args);
                // The index (collection, id, version) answers this with one
                // seek per row.
                ors.push(format!(
                    "o.version = (SELECT {agg}(m.version) FROM objects AS m
                      WHERE m.collection = o.collection AND m.id = o.id{inner})"
                ));
            }
        }
        if !v.exact.is_empty() {
            ors.push(format!("o.version IN ({})", list(v.exact.len())));
            args.extend(v.exact.iter().copied().map(Value::Integer));
        }
        parts.push(format!("({})", ors.join(" OR ")));
    }
    (parts.join(" AND "), args)
}

/// Parses an RFC 3339 timestamp into microseconds since the epoch.
pub fn parse_micros(s: &str) -> Option<i64> {
    let t = time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos().div_euclid(1000)).ok()
}

/// Formats microseconds since the epoch as a STIX/TAXII timestamp in UTC
/// with microseconds: `2024-05-01T12:00:00.123456Z`.
pub fn format_micros(us: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(us) * 1000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.microsecond()
    )
}

/// Now, in microseconds since the epoch.
pub fn now_micros() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(id: &str, modified: Option<&str>) -> NewObject {
        let kind = id.split("--").next().unwrap().to_string();
        let json = match modified {
            Some(m) => format!(r#"{{"type":"{kind}","id":"{id}","modified":"{m}"}}"#),
            None => format!(r#"{{"type":"{kind}","id":"{id}"}}"#),
        };
        NewObject {
            id: id.into(),
            kind,
            spec_version: "2.1".into(),
            version: modified.map(|m| (parse_micros(m).unwrap(), m.to_string())),
            json,
        }
    }

    fn id(kind: &str, n: u32) -> String {
        format!("{kind}--00000000-0000-4000-8000-{n:012}")
    }

    fn q(limit: usize) -> Query {
        Query {
            limit,
            ..Query::default()
        }
    }

    fn ids(p: &ObjectsPage) -> Vec<String> {
        let v: Vec<serde_json::Value> = serde_json::from_str(&p.array).unwrap();
        v.iter()
            .map(|o| o["id"].as_str().unwrap().to_string())
            .collect()
    }

    fn add(s: &Store, c: &str, objs: &[NewObject]) -> Vec<Added> {
        s.add(c, objs, now_micros(), &format!("s{}", now_micros()), |_| {
            "{}".into()
        })
        .unwrap()
    }

    #[test]
    fn timestamps_round_trip() {
        let us = parse_micros("2024-05-01T12:00:00.123456Z").unwrap();
        assert_eq!(format_micros(us), "2024-05-01T12:00:00.123456Z");
        assert_eq!(
            parse_micros("2024-05-01T12:00:00Z"),
            parse_micros("2024-05-01T12:00:00.000Z")
        );
        assert!(parse_micros("yesterday").is_none());
        assert_eq!(
            Cursor::decode(
                &Cursor {
                    date_added: 5,
                    rowid: 300
                }
                .encode()
            ),
            Some(Cursor {
                date_added: 5,
                rowid: 300
            })
        );
        assert!(Cursor::decode("zz.1").is_none() && Cursor::decode("1").is_none());
    }

    #[test]
    fn identical_versions_are_not_duplicated_and_new_ones_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.db")).unwrap();
        let a = id("indicator", 1);
        let r = add(&s, "c", &[obj(&a, Some("2024-01-01T00:00:00.000Z"))]);
        assert_eq!(r[0].outcome, Outcome::Added);
        let r = add(&s, "c", &[obj(&a, Some("2024-01-01T00:00:00Z"))]);
        assert_eq!(r[0].outcome, Outcome::AlreadyPresent);
        let r = add(&s, "c", &[obj(&a, Some("2024-02-01T00:00:00.000Z"))]);
        assert_eq!(r[0].outcome, Outcome::Added);
        assert_eq!(s.count("c").unwrap(), 2);
        // Versionless: one row per id whatever the number of posts.
        let f = id("file", 2);
        let r1 = add(&s, "c", &[obj(&f, None)]);
        let r2 = add(&s, "c", &[obj(&f, None)]);
        assert_eq!(r2[0].outcome, Outcome::AlreadyPresent);
        assert_eq!(r1[0].version, r2[0].version);
        assert_eq!(s.count("c").unwrap(), 3);
        // Default is the last version; first and all on request.
        let p = s.objects("c", &q(10), usize::MAX).unwrap();
        assert_eq!(p.count, 2);
        assert!(p.array.contains("2024-02-01"));
        let mut qa = q(10);
        qa.versions.first = true;
        qa.ids = vec![a.clone()];
        let p = s.objects("c", &qa, usize::MAX).unwrap();
        assert!(
            p.count == 1 && p.array.contains("2024-01-01"),
            "{}",
            p.array
        );
        qa.versions.all = true;
        assert_eq!(s.objects("c", &qa, usize::MAX).unwrap().count, 2);
        let v = s.versions("c", &a, &q(10)).unwrap();
        assert_eq!(
            v.items,
            ["2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"]
        );
        // Another collection is another world.
        assert_eq!(s.count("other").unwrap(), 0);
        // Delete one version, then the rest.
        let mut dq = q(10);
        dq.versions.exact = vec![parse_micros("2024-01-01T00:00:00Z").unwrap()];
        assert_eq!(s.delete("c", &a, &dq).unwrap(), 1);
        dq.versions = VersionFilter {
            all: true,
            ..Default::default()
        };
        assert_eq!(s.delete("c", &a, &dq).unwrap(), 1);
        assert!(!s.exists("c", &a).unwrap());
    }

    #[test]
    fn pages_never_skip_or_repeat_under_concurrent_writes() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.db")).unwrap();
        let batch: Vec<NewObject> = (0..100)
            .map(|n| obj(&id("indicator", n), Some("2024-01-01T00:00:00Z")))
            .collect();
        add(&s, "c", &batch);
        let mut seen = Vec::new();
        let mut after = None;
        let mut next_n = 100;
        loop {
            let mut qq = q(7);
            qq.after = after;
            let p = s.objects("c", &qq, usize::MAX).unwrap();
            seen.extend(ids(&p));
            // Writes land between pages; they sort after every cursor.
            if next_n < 130 {
                add(
                    &s,
                    "c",
                    &[obj(&id("indicator", next_n), Some("2024-01-01T00:00:00Z"))],
                );
                next_n += 1;
            }
            if !p.more {
                break;
            }
            after = p.next;
        }
        let mut uniq = seen.clone();
        uniq.sort();
        uniq.dedup();
        assert_eq!(uniq.len(), seen.len(), "a row was repeated");
        assert!(seen.len() >= 100, "rows were skipped: {}", seen.len());
        for n in 0..100 {
            assert!(seen.contains(&id("indicator", n)));
        }
    }

    #[test]
    fn filters_and_byte_budget() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("t.db")).unwrap();
        let mut batch = Vec::new();
        for n in 0..10 {
            batch.push(obj(&id("indicator", n), Some("2024-01-01T00:00:00Z")));
            batch.push(obj(&id("malware", n), Some("2024-01-01T00:00:00Z")));
        }
        add(&s, "c", &batch);
        let mut qt = q(100);
        qt.types = vec!["malware".into()];
        let p = s.objects("c", &qt, usize::MAX).unwrap();
        assert_eq!(p.count, 10);
        assert!(ids(&p).iter().all(|i| i.starts_with("malware--")));
        qt.spec_versions = vec!["2.0".into()];
        assert_eq!(s.objects("c", &qt, usize::MAX).unwrap().count, 0);
        // added_after: strictly after the fifth row.
        let m = s.manifest("c", &q(5)).unwrap();
        assert!(m.more);
        let fifth = m.items[4].date_added;
        let mut qa = q(100);
        qa.added_after = Some(fifth);
        assert_eq!(s.objects("c", &qa, usize::MAX).unwrap().count, 15);
        // The byte budget ends a page early, never before one object.
        let p = s.objects("c", &q(100), 1).unwrap();
        assert!(p.count == 1 && p.more && p.next.is_some());
    }

    #[test]
    fn reopening_keeps_objects_and_the_added_order() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let s = Store::open(&path).unwrap();
            add(
                &s,
                "c",
                &[obj(&id("indicator", 1), Some("2024-01-01T00:00:00Z"))],
            );
        }
        let s = Store::open(&path).unwrap();
        // A clock set back does not put new rows before old ones.
        s.add(
            "c",
            &[obj(&id("indicator", 2), Some("2024-01-01T00:00:00Z"))],
            0,
            "x",
            |_| "{}".into(),
        )
        .unwrap();
        let p = s.objects("c", &q(10), usize::MAX).unwrap();
        assert_eq!(ids(&p), [id("indicator", 1), id("indicator", 2)]);
        assert_eq!(s.status("x").unwrap().unwrap().0, "c");
        assert!(s.status("y").unwrap().is_none());
    }
}
