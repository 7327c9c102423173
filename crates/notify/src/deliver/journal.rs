//! The delivery journal: one SQLite file (WAL, `synchronous=FULL`) with
//! every notice prepared, its message bytes, its dedup keys, its IntelMQ
//! output (and whether that was exported) and its delivery state.
//!
//! Why SQLite: transactions that survive `kill -9` and power loss, and
//! several processes on one file (`notify status` reading while a run
//! delivers, a second run waiting on the run lock), without a format of
//! our own to get right.
//!
//! The run lock is a separate file, `<journal>.lock` (`flock`, released
//! by the kernel when a process dies), not an SQLite transaction: a run
//! spans many transactions, each committed before its next step, which
//! one long transaction around the run could not be.
//!
//! The dedup keys of a notice are stored as one packed blob (16 bytes per
//! key) rather than one row per key: the journal never looks a key up
//! (the command loads them all into memory once, [`Journal::notified_keys`],
//! and checks events against that set), so an index per key would only
//! cost. Ten million rows would be ten million B-tree cells, each decoded
//! by SQLite's virtual machine on load (seconds) and with about 40 bytes
//! of overhead each on disk; a blob per notice is read as one value, so
//! loading is a copy and a hash insert per key.
//!
//! A journal is as hostile as any input: a file that is not one (another
//! SQLite database, anything else) is refused naming it, before anything
//! is written to it; SQLite's defensive mode is on and its schema is not
//! trusted (no functions run from triggers or views a crafted file
//! carries); a bad state name or a keys blob of the wrong length is an
//! error naming the journal and the notice.

use super::{Entry, PreparedNotice, State, now};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior, params};
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// `PRAGMA application_id` of a journal ("TKNJ"): what tells a journal
/// from any other SQLite database.
const APPLICATION_ID: i32 = 0x544b_4e4a;

/// `PRAGMA user_version`: the schema this code reads and writes.
const VERSION: i32 = 1;

/// The largest message (and IntelMQ output) the journal takes and reads
/// back, 64 MiB: a notice is a text, a CSV and some JSON; more is a bug
/// or a crafted journal, and would be held whole in memory to be sent.
/// [`Journal::prepare`] refuses a larger notice with
/// [`JournalError::Invalid`], so that the command can skip it.
pub const MAX_MESSAGE: usize = 64 << 20;

/// The longest id: the outbox names a file after it.
const MAX_ID: usize = 128;

/// The longest address, period, rule or subject kept.
const MAX_TEXT: usize = 16 << 10;

/// The longest error text kept (a server's reply is hostile and may be
/// long).
const MAX_ERROR: usize = 4 << 10;

/// How long a statement waits for another process's write transaction.
const BUSY_TIMEOUT: Duration = Duration::from_secs(120);

const SCHEMA: &str = r#"
CREATE TABLE notices (
    id TEXT PRIMARY KEY NOT NULL,
    "to" TEXT NOT NULL,
    period TEXT NOT NULL,
    rule TEXT NOT NULL,
    subject TEXT NOT NULL,
    rows INTEGER NOT NULL,
    events INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created INTEGER NOT NULL,
    updated INTEGER NOT NULL,
    via TEXT,
    message BLOB NOT NULL,
    intelmq BLOB,
    intelmq_exported INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX notices_state ON notices (state, id);
CREATE INDEX notices_intelmq ON notices (id)
    WHERE intelmq IS NOT NULL AND intelmq_exported = 0;
CREATE TABLE notice_keys (
    id TEXT PRIMARY KEY NOT NULL,
    keys BLOB NOT NULL
) STRICT;
"#;

/// Why the journal could not be opened, read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JournalError {
    /// The file is not a journal (another SQLite database, or not SQLite
    /// at all); nothing was written to it.
    #[error("{}: not a takedown notify journal: {reason}", path.display())]
    NotAJournal {
        /// The file.
        path: PathBuf,
        /// What it is instead.
        reason: String,
    },
    /// A journal of a later schema than this build knows.
    #[error("{}: journal schema version {version} is newer than this takedown's ({VERSION}); use a newer takedown", path.display())]
    TooNew {
        /// The journal.
        path: PathBuf,
        /// Its `user_version`.
        version: i64,
    },
    /// SQLite refused (busy past the timeout, disk full, a damaged file).
    #[error("{}: {what}: {source}", path.display())]
    Sqlite {
        /// The journal.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// SQLite's error.
        source: rusqlite::Error,
    },
    /// The journal or its lock file could not be opened or locked.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The system's error.
        source: io::Error,
    },
    /// A notice in the journal makes no sense (tampered with or damaged).
    #[error("{}: notice {id:?}: {reason}", path.display())]
    Corrupt {
        /// The journal.
        path: PathBuf,
        /// The notice.
        id: String,
        /// What is wrong.
        reason: String,
    },
    /// A request the journal refuses, changing nothing: a notice given
    /// to [`Journal::prepare`] that cannot be journaled, an unknown
    /// notice or a state that cannot be requeued
    /// ([`Journal::requeue`]).
    #[error("{}", invalid(id, reason))]
    Invalid {
        /// The notice (empty when the request is not about one).
        id: String,
        /// Why.
        reason: String,
    },
}

/// The text of [`JournalError::Invalid`].
fn invalid(id: &str, reason: &str) -> String {
    if id.is_empty() {
        reason.to_string()
    } else {
        format!("notice {id:?}: {reason}")
    }
}

/// The delivery journal (see the module documentation).
#[derive(Debug)]
pub struct Journal {
    conn: Connection,
    path: PathBuf,
    lock_path: PathBuf,
    /// The run lock, once [`Journal::lock`] took it.
    run_lock: Option<File>,
}

/// What [`Journal::claim`] found.
pub(crate) enum Claim {
    /// Now `Sending`, by this run: the envelope recipient and the message.
    Taken { to: String, message: Vec<u8> },
    /// In `Sending` from a killed run, and not to be resent.
    Unconfirmed,
    /// Sent or failed for good (by an earlier run): nothing to do.
    Done,
}

/// Holds the run lock of a journal until dropped.
pub(crate) struct RunLock {
    _file: File,
}

impl Journal {
    /// Opens the journal at `path`, creating it when there is no file or
    /// an empty one. Refuses a file that is not a journal, naming it,
    /// without writing to it.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        check_header(path)?;
        let sqlite = |what, source| JournalError::Sqlite {
            path: path.to_path_buf(),
            what,
            source,
        };
        let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_CREATE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let mut conn =
            Connection::open_with_flags(path, flags).map_err(|e| sqlite("opening", e))?;
        conn.busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| sqlite("setting the busy timeout", e))?;
        // A crafted journal must not run SQL functions from its own
        // triggers or views, nor write to its schema through us.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)
            .and_then(|_| conn.set_db_config(DbConfig::SQLITE_DBCONFIG_TRUSTED_SCHEMA, false))
            .map_err(|e| sqlite("configuring SQLite", e))?;
        // The three header values are read in one read transaction, one
        // snapshot: read one by one, a journal another process is creating
        // at this moment could show its schema but not yet its id.
        {
            let tx = conn
                .transaction()
                .map_err(|e| sqlite("reading the journal header", e))?;
            identify(&tx, path)?;
            tx.commit()
                .map_err(|e| sqlite("reading the journal header", e))?;
        }
        // WAL: readers (`notify status`) never block the delivering
        // writer; FULL: every commit is on disk before the next step.
        // Switching a new database to WAL needs it to itself, and SQLite
        // answers "busy" at once rather than through the busy handler
        // when another process is opening it too: wait here instead.
        let started = std::time::Instant::now();
        let mode: String = loop {
            match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
                Err(rusqlite::Error::SqliteFailure(f, _))
                    if f.code == rusqlite::ErrorCode::DatabaseBusy
                        && started.elapsed() < BUSY_TIMEOUT =>
                {
                    std::thread::sleep(Duration::from_millis(10));
                }
                r => break r.map_err(|e| sqlite("switching to WAL", e))?,
            }
        };
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(JournalError::NotAJournal {
                path: path.to_path_buf(),
                reason: format!("SQLite cannot use write-ahead logging on it (mode {mode:?})"),
            });
        }
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(|e| sqlite("setting synchronous=FULL", e))?;
        // Created in a write transaction, checked again inside it: two
        // processes opening a new journal at once create it once.
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| sqlite("creating the schema", e))?;
        if identify(&tx, path)? {
            tx.execute_batch(SCHEMA)
                .and_then(|_| tx.pragma_update(None, "application_id", APPLICATION_ID))
                .and_then(|_| tx.pragma_update(None, "user_version", VERSION))
                .map_err(|e| sqlite("creating the schema", e))?;
        }
        tx.commit().map_err(|e| sqlite("creating the schema", e))?;
        let mut lock_path = path.as_os_str().to_owned();
        lock_path.push(".lock");
        Ok(Journal {
            conn,
            path: path.to_path_buf(),
            lock_path: PathBuf::from(lock_path),
            run_lock: None,
        })
    }

    /// How durable each commit is against a power loss (a killed process
    /// loses nothing either way: a commit is in the write-ahead log, in
    /// the kernel's hands, before it returns). `true`, the default: on
    /// disk before the next step (`synchronous=FULL`), which delivery
    /// over SMTP needs (a Sent lost to a power cut would mean a second
    /// copy). `false` (`synchronous=NORMAL`: the log is synced at
    /// checkpoints): for an idempotent transport, where a step lost to a
    /// power cut is redone with the same result (the outbox: the same
    /// file with the same bytes, or its marker), and each of the
    /// thousands of commits of a large run no longer waits for the disk.
    pub fn set_durable(&mut self, durable: bool) -> Result<(), JournalError> {
        let mode = if durable { "FULL" } else { "NORMAL" };
        self.conn
            .pragma_update(None, "synchronous", mode)
            .map_err(|e| self.sqlite("setting synchronous", e))
    }

    /// The journal file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every dedup key of every journaled notice, whatever its state
    /// (a failed notice's events are not notified again either).
    pub fn notified_keys(&self) -> Result<HashSet<[u8; 16]>, JournalError> {
        let total: i64 = self
            .conn
            .query_row(
                "SELECT coalesce(sum(length(keys)), 0) FROM notice_keys",
                [],
                |r| r.get(0),
            )
            .map_err(|e| self.sqlite("reading the notified keys", e))?;
        // Sized by what the file holds (not by anything it claims).
        let mut set = HashSet::with_capacity(usize::try_from(total / 16).unwrap_or(0));
        let mut stmt = self
            .conn
            .prepare("SELECT id, keys FROM notice_keys")
            .map_err(|e| self.sqlite("reading the notified keys", e))?;
        let mut rows = stmt
            .query([])
            .map_err(|e| self.sqlite("reading the notified keys", e))?;
        while let Some(row) = rows
            .next()
            .map_err(|e| self.sqlite("reading the notified keys", e))?
        {
            let blob = row
                .get_ref(1)
                .and_then(|v| Ok(v.as_blob()?))
                .map_err(|e| self.sqlite("reading the notified keys", e))?;
            let (keys, rest) = blob.as_chunks::<16>();
            if !rest.is_empty() {
                let id: String = row.get(0).unwrap_or_default();
                return Err(self.corrupt(
                    &id,
                    format!("its keys are {} bytes, not a multiple of 16", blob.len()),
                ));
            }
            set.extend(keys.iter().copied());
        }
        Ok(set)
    }

    /// Journals a notice (its row, its keys and its IntelMQ output) in
    /// one transaction. `Ok(false)` when a notice with that id is already
    /// there (then nothing changes): preparing again after a kill is
    /// harmless. A notice that cannot be journaled (a bad id or address,
    /// a message or IntelMQ output over [`MAX_MESSAGE`] bytes) is a
    /// [`JournalError::Invalid`] naming it, and nothing is written: the
    /// caller may skip it and go on.
    pub fn prepare(&mut self, n: &PreparedNotice) -> Result<bool, JournalError> {
        validate(n)?;
        let keys = n.keys.as_flattened();
        let count = |v: u64, what: &str| {
            i64::try_from(v).map_err(|_| JournalError::Invalid {
                id: n.id.clone(),
                reason: format!("not journaled: {what} count {v} too large"),
            })
        };
        let (rows, events) = (count(n.rows, "row")?, count(n.events, "event")?);
        let packed = |data: &[u8]| {
            pack(data).map_err(|reason| JournalError::Invalid {
                id: n.id.clone(),
                reason: format!("not journaled: {reason}"),
            })
        };
        let message = packed(&n.message)?;
        let intelmq = n.intelmq.as_deref().map(packed).transpose()?;
        let path = self.path.clone();
        let sqlite = |e| JournalError::Sqlite {
            path: path.clone(),
            what: "journaling a notice",
            source: e,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let added = tx
            .execute(
                r#"INSERT OR IGNORE INTO notices
                   (id, "to", period, rule, subject, rows, events, state,
                    attempts, created, updated, message, intelmq)
                   VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'prepared', 0, ?8, ?8, ?9, ?10)"#,
                params![
                    n.id, n.to, n.period, n.rule, n.subject, rows, events, n.created, message,
                    intelmq
                ],
            )
            .map_err(sqlite)?;
        if added == 0 {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO notice_keys (id, keys) VALUES (?1, ?2)",
            params![n.id, keys],
        )
        .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        Ok(true)
    }

    /// Every journaled notice, in id order, without its message.
    pub fn entries(&self) -> Result<Vec<Entry>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{ENTRY_SELECT} ORDER BY id"))
            .map_err(|e| self.sqlite("reading the notices", e))?;
        let mut rows = stmt
            .query([])
            .map_err(|e| self.sqlite("reading the notices", e))?;
        let mut out = Vec::new();
        while let Some(row) = rows
            .next()
            .map_err(|e| self.sqlite("reading the notices", e))?
        {
            out.push(self.entry_of(row)?);
        }
        Ok(out)
    }

    /// One notice's entry, if it is journaled.
    pub(crate) fn entry(&self, id: &str) -> Result<Option<Entry>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(&format!("{ENTRY_SELECT} WHERE id = ?1"))
            .map_err(|e| self.sqlite("reading a notice", e))?;
        let mut rows = stmt
            .query([id])
            .map_err(|e| self.sqlite("reading a notice", e))?;
        match rows
            .next()
            .map_err(|e| self.sqlite("reading a notice", e))?
        {
            Some(row) => Ok(Some(self.entry_of(row)?)),
            None => Ok(None),
        }
    }

    fn entry_of(&self, row: &rusqlite::Row<'_>) -> Result<Entry, JournalError> {
        let e = |e| self.sqlite("reading a notice", e);
        let id: String = row.get(0).map_err(e)?;
        let state: String = row.get(7).map_err(e)?;
        let state = state.parse().map_err(|r| self.corrupt(&id, r))?;
        let number = |i: usize| -> Result<i64, JournalError> { row.get(i).map_err(e) };
        let unsigned = |i: usize, what: &str| -> Result<u64, JournalError> {
            u64::try_from(number(i)?).map_err(|_| self.corrupt(&id, format!("negative {what}")))
        };
        Ok(Entry {
            to: row.get(1).map_err(e)?,
            period: row.get(2).map_err(e)?,
            rule: row.get(3).map_err(e)?,
            subject: row.get(4).map_err(e)?,
            rows: unsigned(5, "row count")?,
            events: unsigned(6, "event count")?,
            state,
            attempts: u32::try_from(number(8)?.max(0)).unwrap_or(u32::MAX),
            last_error: row.get(9).map_err(e)?,
            created: number(10)?,
            updated: number(11)?,
            via: row.get(12).map_err(e)?,
            id,
        })
    }

    /// Takes the run lock (`<journal>.lock`, exclusive), waiting for the
    /// run that holds it to finish, and holds it until this `Journal` is
    /// dropped. Taken before reading [`Journal::notified_keys`] and
    /// preparing, it makes "read the keys, prepare, deliver" one run that
    /// no other run interleaves with (two runs would otherwise both find
    /// the same events not notified yet, and both notify them).
    /// [`deliver`](super::deliver) and [`Journal::requeue`] use a lock
    /// held so (they take it themselves otherwise, for their own
    /// duration). Calling it again while held does nothing. Held by the
    /// open file: a killed process releases it.
    pub fn lock(&mut self) -> Result<(), JournalError> {
        if self.run_lock.is_none() {
            self.run_lock = Some(self.lock_run()?._file);
        }
        Ok(())
    }

    /// The run lock for one operation: `None` when [`Journal::lock`]
    /// holds it already (a second `flock` from this process, on another
    /// open file, would wait for ourselves), else taken until dropped.
    pub(crate) fn run_guard(&self) -> Result<Option<RunLock>, JournalError> {
        match self.run_lock {
            Some(_) => Ok(None),
            None => self.lock_run().map(Some),
        }
    }

    /// Puts notices back to `Prepared`, so that the next
    /// [`deliver`](super::deliver) sends them: those in one of `states`
    /// (only `Failed`, `Sending` and `TempFailed` may be given), and of
    /// those only the ones in `ids` when it is not empty. Their attempts
    /// and last error are kept. Returns how many changed.
    ///
    /// An unknown id, or a state that cannot be requeued, is a
    /// [`JournalError::Invalid`] and nothing changes: all of it is one
    /// transaction. Runs under the run lock (see [`Journal::lock`]), so
    /// that a notice another process is sending right now (`Sending`) is
    /// never requeued under it; requeuing a `Sending` notice left by a
    /// killed run may send it twice, as
    /// [`DeliverOptions::resend_unconfirmed`](super::DeliverOptions) does.
    pub fn requeue(&mut self, states: &[State], ids: &[String]) -> Result<u64, JournalError> {
        for s in states {
            if !matches!(s, State::Failed | State::Sending | State::TempFailed) {
                return Err(JournalError::Invalid {
                    id: String::new(),
                    reason: format!(
                        "{s} notices cannot be requeued (only failed, sending and tempfailed ones)"
                    ),
                });
            }
        }
        let _run = self.run_guard()?;
        let path = self.path.clone();
        let sqlite = |e| JournalError::Sqlite {
            path: path.clone(),
            what: "requeuing notices",
            source: e,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let now = now();
        let mut changed = 0u64;
        for id in ids {
            let known: Option<i64> = tx
                .query_row("SELECT 1 FROM notices WHERE id = ?1", [id], |r| r.get(0))
                .optional()
                .map_err(sqlite)?;
            if known.is_none() {
                return Err(JournalError::Invalid {
                    id: id.clone(),
                    reason: "no such notice in the journal".into(),
                });
            }
        }
        for s in states {
            changed += if ids.is_empty() {
                tx.execute(
                    "UPDATE notices SET state = 'prepared', updated = ?2 WHERE state = ?1",
                    params![s.as_str(), now],
                )
                .map_err(sqlite)? as u64
            } else {
                let mut n = 0;
                for id in ids {
                    n += tx
                        .execute(
                            "UPDATE notices SET state = 'prepared', updated = ?2 \
                             WHERE state = ?1 AND id = ?3",
                            params![s.as_str(), now, id],
                        )
                        .map_err(sqlite)? as u64;
                }
                n
            };
        }
        tx.commit().map_err(sqlite)?;
        Ok(changed)
    }

    /// The IntelMQ output of every notice that has one not exported yet
    /// (see [`Journal::mark_intelmq_exported`]), in id order: a run killed
    /// after journaling notices but before writing their events out
    /// leaves them here for the next run.
    pub fn unexported_intelmq(&self) -> Result<Vec<(String, Vec<u8>)>, JournalError> {
        let what = "reading the IntelMQ output";
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id, length(intelmq) FROM notices \
                 WHERE intelmq IS NOT NULL AND intelmq_exported = 0 ORDER BY id",
            )
            .map_err(|e| self.sqlite(what, e))?;
        let ids = stmt
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(|e| self.sqlite(what, e))?;
        let mut out = Vec::with_capacity(ids.len());
        for (id, len) in ids {
            // Checked before the blob is read: a crafted journal must not
            // make us allocate what prepare would never have written.
            if usize::try_from(len).map_or(true, |l| l > MAX_MESSAGE) {
                return Err(self.corrupt(
                    &id,
                    format!("its IntelMQ output is {len} bytes, over the {MAX_MESSAGE} byte limit"),
                ));
            }
            let packed: Vec<u8> = self
                .conn
                .query_row("SELECT intelmq FROM notices WHERE id = ?1", [&id], |r| {
                    r.get(0)
                })
                .map_err(|e| self.sqlite(what, e))?;
            let lines = unpack(&packed).map_err(|reason| {
                self.corrupt(&id, format!("its IntelMQ output cannot be read: {reason}"))
            })?;
            out.push((id, lines));
        }
        Ok(out)
    }

    /// Records that the IntelMQ output of these notices is written out
    /// (one transaction). A notice unknown or without IntelMQ output is a
    /// [`JournalError::Invalid`] naming it, and nothing changes.
    pub fn mark_intelmq_exported(&mut self, ids: &[String]) -> Result<(), JournalError> {
        let path = self.path.clone();
        let sqlite = |e| JournalError::Sqlite {
            path: path.clone(),
            what: "recording the IntelMQ output as exported",
            source: e,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        for id in ids {
            let changed = tx
                .execute(
                    "UPDATE notices SET intelmq_exported = 1 \
                     WHERE id = ?1 AND intelmq IS NOT NULL",
                    [id],
                )
                .map_err(sqlite)?;
            if changed != 1 {
                return Err(JournalError::Invalid {
                    id: id.clone(),
                    reason: "no such notice with IntelMQ output in the journal".into(),
                });
            }
        }
        tx.commit().map_err(sqlite)?;
        Ok(())
    }

    /// Takes the run lock (`<journal>.lock`), waiting for another run to
    /// finish. Held by the open file: a killed run releases it.
    pub(crate) fn lock_run(&self) -> Result<RunLock, JournalError> {
        let io = |source| JournalError::Io {
            path: self.lock_path.clone(),
            source,
        };
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&self.lock_path)
            .map_err(io)?;
        file.lock().map_err(io)?;
        Ok(RunLock { _file: file })
    }

    /// The notices a run may have to send, in id order.
    pub(crate) fn pending_ids(&self) -> Result<Vec<String>, JournalError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT id FROM notices WHERE state IN ('prepared', 'tempfailed', 'sending') \
                 ORDER BY id",
            )
            .map_err(|e| self.sqlite("listing the notices to send", e))?;
        let ids = stmt
            .query_map([], |r| r.get(0))
            .and_then(|rows| rows.collect::<Result<Vec<String>, _>>())
            .map_err(|e| self.sqlite("listing the notices to send", e))?;
        Ok(ids)
    }

    /// Takes a notice for sending: in one write transaction, re-reads its
    /// state and, when it is to be sent, marks it `Sending` (one more
    /// attempt) and returns its message.
    pub(crate) fn claim(&mut self, id: &str, resend: bool) -> Result<Claim, JournalError> {
        let path = self.path.clone();
        let sqlite = |e| JournalError::Sqlite {
            path: path.clone(),
            what: "claiming a notice",
            source: e,
        };
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(sqlite)?;
        let found: Option<(String, String, i64)> = tx
            .query_row(
                r#"SELECT state, "to", length(message) FROM notices WHERE id = ?1"#,
                [id],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(sqlite)?;
        let Some((state, to, len)) = found else {
            return Ok(Claim::Done);
        };
        let corrupt = |reason: String| JournalError::Corrupt {
            path: path.clone(),
            id: id.to_string(),
            reason,
        };
        match state.parse::<State>().map_err(corrupt)? {
            State::Prepared | State::TempFailed => {}
            State::Sending if resend => {}
            State::Sending => return Ok(Claim::Unconfirmed),
            State::Sent | State::Failed => return Ok(Claim::Done),
        }
        if usize::try_from(len).map_or(true, |l| l > MAX_MESSAGE) {
            return Err(corrupt(format!(
                "its message is {len} bytes, over the {MAX_MESSAGE} byte limit"
            )));
        }
        let packed: Vec<u8> = tx
            .query_row("SELECT message FROM notices WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .map_err(sqlite)?;
        let message = unpack(&packed)
            .map_err(|reason| corrupt(format!("its message cannot be read: {reason}")))?;
        tx.execute(
            "UPDATE notices SET state = 'sending', attempts = attempts + 1, updated = ?2 \
             WHERE id = ?1",
            params![id, now()],
        )
        .map_err(sqlite)?;
        tx.commit().map_err(sqlite)?;
        Ok(Claim::Taken { to, message })
    }

    /// A notice's state and recipient, if it is journaled.
    pub(crate) fn peek(&self, id: &str) -> Result<Option<(State, String)>, JournalError> {
        let found: Option<(String, String)> = self
            .conn
            .query_row(
                r#"SELECT state, "to" FROM notices WHERE id = ?1"#,
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.sqlite("reading a notice", e))?;
        match found {
            Some((state, to)) => {
                let state = state.parse().map_err(|r| self.corrupt(id, r))?;
                Ok(Some((state, to)))
            }
            None => Ok(None),
        }
    }

    /// Left in `Sending` (unconfirmed: the transport cannot tell whether
    /// it was taken), with the reason.
    pub(crate) fn mark_unconfirmed(&mut self, id: &str, error: &str) -> Result<(), JournalError> {
        self.update(
            id,
            "UPDATE notices SET last_error = ?3, updated = ?2 WHERE id = ?1 AND state = 'sending'",
            Some(&clip(error, MAX_ERROR)),
        )
    }

    /// Back to `Sending` for a retry (one more attempt).
    pub(crate) fn mark_sending(&mut self, id: &str) -> Result<(), JournalError> {
        self.update(
            id,
            "UPDATE notices SET state = 'sending', attempts = attempts + 1, updated = ?2 \
             WHERE id = ?1 AND state = 'tempfailed'",
            None,
        )
    }

    /// `Sent`, with the transport and its answer.
    pub(crate) fn mark_sent(&mut self, id: &str, via: &str) -> Result<(), JournalError> {
        self.update(
            id,
            "UPDATE notices SET state = 'sent', via = ?3, updated = ?2 \
             WHERE id = ?1 AND state = 'sending'",
            Some(&clip(via, MAX_ERROR)),
        )
    }

    /// `TempFailed` or `Failed`, with the refusal.
    pub(crate) fn mark_failed(
        &mut self,
        id: &str,
        state: State,
        error: &str,
    ) -> Result<(), JournalError> {
        let sql = match state {
            State::Failed => {
                "UPDATE notices SET state = 'failed', last_error = ?3, updated = ?2 \
                 WHERE id = ?1 AND state = 'sending'"
            }
            _ => {
                "UPDATE notices SET state = 'tempfailed', last_error = ?3, updated = ?2 \
                 WHERE id = ?1 AND state = 'sending'"
            }
        };
        self.update(id, sql, Some(&clip(error, MAX_ERROR)))
    }

    /// One state change, committed (autocommit), of exactly one notice in
    /// the state the run left it in; anything else means someone else
    /// changed it, which the run lock rules out.
    fn update(&mut self, id: &str, sql: &str, text: Option<&str>) -> Result<(), JournalError> {
        let changed = match text {
            Some(t) => self.conn.execute(sql, params![id, now(), t]),
            None => self.conn.execute(sql, params![id, now()]),
        }
        .map_err(|e| self.sqlite("recording a delivery", e))?;
        if changed != 1 {
            return Err(self.corrupt(id, "changed by another process during delivery".into()));
        }
        Ok(())
    }

    fn sqlite(&self, what: &'static str, source: rusqlite::Error) -> JournalError {
        JournalError::Sqlite {
            path: self.path.clone(),
            what,
            source,
        }
    }

    fn corrupt(&self, id: &str, reason: String) -> JournalError {
        JournalError::Corrupt {
            path: self.path.clone(),
            id: id.to_string(),
            reason,
        }
    }
}

const ENTRY_SELECT: &str = r#"SELECT id, "to", period, rule, subject, rows, events, state,
    attempts, last_error, created, updated, via FROM notices"#;

/// Refuses, before SQLite touches it, a file that is not an SQLite
/// database (SQLite would say "file is not a database" without naming
/// it; and a directory or a device is no journal).
fn check_header(path: &Path) -> Result<(), JournalError> {
    let not = |reason: &str| JournalError::NotAJournal {
        path: path.to_path_buf(),
        reason: reason.to_string(),
    };
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(JournalError::Io {
                path: path.to_path_buf(),
                source,
            });
        }
    };
    if !meta.is_file() {
        return Err(not("not a regular file"));
    }
    if meta.len() == 0 {
        return Ok(());
    }
    let mut head = [0u8; 16];
    let n = File::open(path)
        .and_then(|f| f.take(16).read(&mut head))
        .map_err(|source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    if head[..n] != *b"SQLite format 3\0" {
        return Err(not(
            "not an SQLite database (a journal is one written by takedown notify)",
        ));
    }
    Ok(())
}

/// Whether the database is a new, empty one (to be given the schema);
/// an error unless it is that or a journal this code reads.
fn identify(conn: &Connection, path: &Path) -> Result<bool, JournalError> {
    let sqlite = |source| JournalError::Sqlite {
        path: path.to_path_buf(),
        what: "reading the journal header",
        source,
    };
    let app: i32 = conn
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .map_err(sqlite)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(sqlite)?;
    let objects: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))
        .map_err(sqlite)?;
    if app == 0 && version == 0 && objects == 0 {
        return Ok(true);
    }
    if app != APPLICATION_ID {
        return Err(JournalError::NotAJournal {
            path: path.to_path_buf(),
            reason: format!(
                "an SQLite database of something else (application_id {app:#x}, {objects} schema objects)"
            ),
        });
    }
    if version > i64::from(VERSION) {
        return Err(JournalError::TooNew {
            path: path.to_path_buf(),
            version,
        });
    }
    if version < 1 {
        return Err(JournalError::NotAJournal {
            path: path.to_path_buf(),
            reason: format!("schema version {version} is not one takedown wrote"),
        });
    }
    Ok(false)
}

/// A message or IntelMQ output as the journal stores it: a zstd frame
/// (level 1). Mail and JSON shrink about fivefold, and the journal's
/// bytes are written twice (the write-ahead log, then the database): a
/// large run's disk traffic was mostly the journal's.
fn pack(data: &[u8]) -> Result<Vec<u8>, String> {
    zstd::bulk::compress(data, 1).map_err(|e| format!("cannot compress: {e}"))
}

/// [`pack`] undone, never to more than [`MAX_MESSAGE`] bytes (a crafted
/// journal must not make us allocate more than prepare ever wrote).
fn unpack(blob: &[u8]) -> Result<Vec<u8>, String> {
    zstd::bulk::decompress(blob, MAX_MESSAGE).map_err(|e| e.to_string())
}

/// Refuses a notice the journal or a transport could not handle.
fn validate(n: &PreparedNotice) -> Result<(), JournalError> {
    let bad = |reason: String| {
        Err(JournalError::Invalid {
            id: n.id.clone(),
            reason: format!("not journaled: {reason}"),
        })
    };
    if n.id.is_empty()
        || n.id.len() > MAX_ID
        || !n
            .id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return bad(format!(
            "an id is 1 to {MAX_ID} characters of letters, digits, '-' and '_'"
        ));
    }
    for (what, text) in [
        ("address", &n.to),
        ("period", &n.period),
        ("rule", &n.rule),
        ("subject", &n.subject),
    ] {
        if text.len() > MAX_TEXT {
            return bad(format!(
                "its {what} is {} bytes, over {MAX_TEXT}",
                text.len()
            ));
        }
    }
    if n.to.is_empty() || n.to.chars().any(char::is_control) {
        return bad(format!(
            "its address {:?} is empty or has control characters",
            n.to
        ));
    }
    if n.message.is_empty() || n.message.len() > MAX_MESSAGE {
        return bad(format!(
            "its message is {} bytes (1 to {MAX_MESSAGE} allowed)",
            n.message.len()
        ));
    }
    if let Some(lines) = &n.intelmq
        && lines.len() > MAX_MESSAGE
    {
        return bad(format!(
            "its IntelMQ output is {} bytes (at most {MAX_MESSAGE} allowed)",
            lines.len()
        ));
    }
    Ok(())
}

/// `s` cut to at most `max` bytes, on a character boundary.
fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}...", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn notice(id: &str, keys: &[[u8; 16]]) -> PreparedNotice {
        PreparedNotice {
            id: id.into(),
            to: "abuse@example.net".into(),
            period: "2026-12-05".into(),
            rule: "override 192.0.2.0/24".into(),
            rows: keys.len() as u64,
            events: 7,
            keys: keys.to_vec(),
            subject: "Infected machines in your network".into(),
            message: b"Subject: x\r\n\r\nbody\r\n".to_vec(),
            created: 1_800_000_000,
            intelmq: None,
        }
    }

    fn set_state(j: &Journal, id: &str, state: State) {
        j.conn
            .execute(
                "UPDATE notices SET state = ?2, attempts = 2, last_error = 'why' WHERE id = ?1",
                params![id, state.as_str()],
            )
            .unwrap();
    }

    fn states(j: &Journal) -> Vec<(String, State)> {
        j.entries()
            .unwrap()
            .into_iter()
            .map(|e| (e.id, e.state))
            .collect()
    }

    #[test]
    fn requeue_by_state_and_id_in_one_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        let all = [
            ("a", State::Failed),
            ("b", State::Sending),
            ("c", State::TempFailed),
            ("d", State::Sent),
            ("e", State::Failed),
            ("f", State::Prepared),
        ];
        for (id, s) in all {
            j.prepare(&notice(id, &[])).unwrap();
            set_state(&j, id, s);
        }
        // Refused, nothing changed: a state that cannot be requeued, an
        // unknown id (after a known one).
        for s in [State::Sent, State::Prepared] {
            let err = j.requeue(&[State::Failed, s], &[]).unwrap_err();
            assert!(
                matches!(&err, JournalError::Invalid { .. })
                    && err.to_string().contains(s.as_str()),
                "{err}"
            );
        }
        let err = j
            .requeue(&[State::Failed], &["a".into(), "zz".into()])
            .unwrap_err();
        assert!(
            matches!(&err, JournalError::Invalid { id, .. } if id == "zz"),
            "{err}"
        );
        assert!(err.to_string().contains("\"zz\""), "{err}");
        assert_eq!(states(&j), all.map(|(i, s)| (i.to_string(), s)));

        // By id: only those, and only in the states given.
        assert_eq!(
            j.requeue(&[State::Failed], &["a".into(), "b".into(), "d".into()])
                .unwrap(),
            1
        );
        assert_eq!(states(&j)[0], ("a".into(), State::Prepared));
        assert_eq!(states(&j)[4], ("e".into(), State::Failed));
        // By state: every one.
        assert_eq!(
            j.requeue(&[State::Sending, State::TempFailed, State::Failed], &[])
                .unwrap(),
            3
        );
        assert_eq!(
            states(&j).iter().map(|(_, s)| *s).collect::<Vec<_>>(),
            [
                State::Prepared,
                State::Prepared,
                State::Prepared,
                State::Sent,
                State::Prepared,
                State::Prepared
            ]
        );
        // Attempts and the last error are kept.
        let e = &j.entries().unwrap()[1];
        assert_eq!((e.attempts, e.last_error.as_deref()), (2, Some("why")));
    }

    #[test]
    fn intelmq_output_until_exported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = Journal::open(&path).unwrap();
        for (id, lines) in [
            ("c", Some(&b"{\"c\": 1}\n"[..])),
            ("a", Some(&b"{\"a\": 1}\n{\"a\": 2}\n"[..])),
            ("b", None),
        ] {
            let mut n = notice(id, &[]);
            n.intelmq = lines.map(<[u8]>::to_vec);
            j.prepare(&n).unwrap();
        }
        let all = j.unexported_intelmq().unwrap();
        assert_eq!(
            all,
            [
                ("a".to_string(), b"{\"a\": 1}\n{\"a\": 2}\n".to_vec()),
                ("c".to_string(), b"{\"c\": 1}\n".to_vec())
            ]
        );
        // An unknown notice, or one without output: nothing marked.
        for bad in ["b", "zz"] {
            let err = j
                .mark_intelmq_exported(&["a".into(), bad.into()])
                .unwrap_err();
            assert!(
                matches!(&err, JournalError::Invalid { id, .. } if id == bad),
                "{err}"
            );
        }
        assert_eq!(j.unexported_intelmq().unwrap().len(), 2);
        j.mark_intelmq_exported(&["a".into()]).unwrap();
        drop(j);
        let j = Journal::open(&path).unwrap();
        assert_eq!(
            j.unexported_intelmq().unwrap(),
            [("c".to_string(), b"{\"c\": 1}\n".to_vec())]
        );
        // A crafted journal with a huge blob is refused before reading it.
        j.conn
            .execute(
                "UPDATE notices SET intelmq = zeroblob(?1) WHERE id = 'c'",
                [MAX_MESSAGE as i64 + 1],
            )
            .unwrap();
        let err = j.unexported_intelmq().unwrap_err();
        assert!(matches!(err, JournalError::Corrupt { .. }), "{err}");
    }

    #[test]
    fn messages_over_64_mib_are_refused_naming_the_notice() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        let mut n = notice("big", &[[1; 16]]);
        n.message = vec![b'x'; MAX_MESSAGE + 1];
        let err = j.prepare(&n).unwrap_err();
        assert!(
            matches!(&err, JournalError::Invalid { id, .. } if id == "big"),
            "{err}"
        );
        assert!(err.to_string().contains("\"big\""), "{err}");
        let mut n = notice("big2", &[[2; 16]]);
        n.intelmq = Some(vec![b'x'; MAX_MESSAGE + 1]);
        assert!(matches!(j.prepare(&n), Err(JournalError::Invalid { .. })));
        n.intelmq = Some(vec![b'x'; 10]);
        assert!(j.prepare(&n).unwrap());
        assert_eq!(j.entries().unwrap().len(), 1);
        assert!(j.notified_keys().unwrap().contains(&[2; 16]));
    }

    /// Processes starting at once on a journal that does not exist yet
    /// all open it: none sees a half-made journal (its schema without its
    /// id) and takes it for something else.
    #[test]
    fn journals_opened_at_once_are_created_once() {
        let dir = tempfile::tempdir().unwrap();
        for round in 0..40 {
            let path = dir.path().join(format!("j{round}"));
            let start = std::sync::Arc::new(std::sync::Barrier::new(4));
            let openers: Vec<_> = (0..4)
                .map(|_| {
                    let (path, start) = (path.clone(), start.clone());
                    std::thread::spawn(move || {
                        start.wait();
                        Journal::open(&path).map(|_| ())
                    })
                })
                .collect();
            for o in openers {
                if let Err(e) = o.join().unwrap() {
                    panic!("round {round}: {e}");
                }
            }
        }
    }

    /// `lock` is held until the journal is dropped, a second `lock` on
    /// the same journal does nothing, another journal handle waits.
    #[test]
    fn the_run_lock_is_held_until_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = Journal::open(&path).unwrap();
        j.lock().unwrap();
        j.lock().unwrap();
        // Our own operations use it rather than waiting for ourselves.
        assert!(j.run_guard().unwrap().is_none());
        j.requeue(&[State::Failed], &[]).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let other = std::thread::spawn(move || {
            let mut k = Journal::open(&path).unwrap();
            k.lock().unwrap();
            tx.send(()).unwrap();
        });
        assert!(rx.recv_timeout(Duration::from_millis(300)).is_err());
        drop(j);
        rx.recv_timeout(Duration::from_secs(10)).unwrap();
        other.join().unwrap();
    }

    #[test]
    fn prepare_is_idempotent_and_keys_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j.sqlite");
        let mut j = Journal::open(&path).unwrap();
        let a = notice("aa", &[[1; 16], [2; 16]]);
        assert!(j.prepare(&a).unwrap());
        let mut again = a.clone();
        again.to = "other@example.org".into();
        assert!(!j.prepare(&again).unwrap());
        assert!(j.prepare(&notice("bb", &[[3; 16]])).unwrap());
        drop(j);
        let j = Journal::open(&path).unwrap();
        let keys = j.notified_keys().unwrap();
        assert_eq!(keys, HashSet::from([[1; 16], [2; 16], [3; 16]]));
        let e = j.entries().unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].id, "aa");
        assert_eq!(e[0].to, "abuse@example.net");
        assert_eq!(e[0].state, State::Prepared);
        assert_eq!((e[0].rows, e[0].events, e[0].attempts), (2, 7, 0));
        assert_eq!(e[0].created, 1_800_000_000);
    }

    #[test]
    fn bad_notices_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut j = Journal::open(&dir.path().join("j")).unwrap();
        for id in ["", "../x", "a b", &"a".repeat(129)] {
            assert!(matches!(
                j.prepare(&notice(id, &[])),
                Err(JournalError::Invalid { .. })
            ));
        }
        let mut n = notice("ok", &[]);
        n.to = "a@b\r\nBcc: x@y".into();
        assert!(j.prepare(&n).is_err());
        let mut n = notice("ok", &[]);
        n.message.clear();
        assert!(j.prepare(&n).is_err());
        assert!(j.entries().unwrap().is_empty());
    }

    #[test]
    fn foreign_files_are_refused_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let text = dir.path().join("report.csv");
        std::fs::write(&text, "timestamp,src_ip\n").unwrap();
        let err = Journal::open(&text).unwrap_err().to_string();
        assert!(
            err.contains("report.csv") && err.contains("not an SQLite"),
            "{err}"
        );
        assert_eq!(std::fs::read(&text).unwrap(), b"timestamp,src_ip\n");

        let other = dir.path().join("other.db");
        let c = Connection::open(&other).unwrap();
        c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        drop(c);
        let before = std::fs::read(&other).unwrap();
        let err = Journal::open(&other).unwrap_err().to_string();
        assert!(
            err.contains("other.db") && err.contains("something else"),
            "{err}"
        );
        assert_eq!(std::fs::read(&other).unwrap(), before);

        let err = Journal::open(dir.path()).unwrap_err().to_string();
        assert!(err.contains("not a regular file"), "{err}");
    }

    #[test]
    fn newer_journals_and_bad_blobs_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("j");
        let mut j = Journal::open(&path).unwrap();
        j.prepare(&notice("aa", &[[1; 16]])).unwrap();
        drop(j);
        let c = Connection::open(&path).unwrap();
        c.execute("UPDATE notice_keys SET keys = x'0102'", [])
            .unwrap();
        c.execute("UPDATE notices SET state = 'lost'", []).unwrap();
        drop(c);
        let j = Journal::open(&path).unwrap();
        let err = j.notified_keys().unwrap_err().to_string();
        assert!(
            err.contains("\"aa\"") && err.contains("multiple of 16"),
            "{err}"
        );
        let err = j.entries().unwrap_err().to_string();
        assert!(err.contains("unknown notice state"), "{err}");
        drop(j);
        let c = Connection::open(&path).unwrap();
        c.pragma_update(None, "user_version", 9).unwrap();
        drop(c);
        assert!(matches!(
            Journal::open(&path),
            Err(JournalError::TooNew { version: 9, .. })
        ));
    }

    #[test]
    fn journal_is_wal_and_full_sync() {
        let dir = tempfile::tempdir().unwrap();
        let j = Journal::open(&dir.path().join("j")).unwrap();
        let mode: String = j
            .conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        let sync: i64 = j
            .conn
            .query_row("PRAGMA synchronous", [], |r| r.get(0))
            .unwrap();
        assert_eq!((mode.as_str(), sync), ("wal", 2));
        let mut j = j;
        let sync = |j: &Journal| -> i64 {
            j.conn
                .query_row("PRAGMA synchronous", [], |r| r.get(0))
                .unwrap()
        };
        j.set_durable(false).unwrap();
        assert_eq!(sync(&j), 1, "NORMAL");
        j.set_durable(true).unwrap();
        assert_eq!(sync(&j), 2, "FULL");
    }

    #[test]
    fn packed_blobs_round_trip_and_never_unpack_past_the_limit() {
        let text = b"Subject: x\r\n\r\nbody\r\n".repeat(100);
        let p = pack(&text).unwrap();
        assert!(p.len() < text.len() / 5, "{} bytes", p.len());
        assert_eq!(unpack(&p).unwrap(), text);
        // A crafted journal: a small blob that would unpack to more than
        // any message prepare takes.
        let bomb = pack(&vec![0u8; MAX_MESSAGE + 1]).unwrap();
        assert!(bomb.len() < 1 << 20);
        assert!(unpack(&bomb).is_err());
        assert!(unpack(b"not zstd").is_err());
    }

    #[test]
    fn clip_cuts_on_a_character_boundary() {
        assert_eq!(clip("abc", 5), "abc");
        assert_eq!(clip("ééé", 3), "é...");
    }
}
