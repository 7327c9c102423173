//! The write-ahead journal: one JSON line per intended step, made durable
//! before the step acts, and a `done` line after it. A batch's lines are
//! written under the vault lock and the journal is emptied when the batch
//! is over, so a non-empty journal found by the next command means a
//! process died half way; [`crate::Vault::recover`] then finishes or rolls
//! back each step that has no `done`.
//!
//! A line torn by a crash (no newline, or not JSON) was never made durable,
//! so the step it announced never started: it is ignored.

use crate::fsops::Identity;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};

/// A step announced in the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Record {
    /// Move a file into the vault as item `id`.
    Quarantine {
        /// Sequence number of the record.
        seq: u64,
        /// The run that acts (its log in `logs/`).
        run: String,
        /// The vault item.
        id: String,
        /// Directory of the file, exact bytes in base64.
        dir: String,
        /// Name of the file in it, base64.
        name: String,
        /// What the scan saw.
        identity: Identity,
        /// SHA-256 the content must have.
        sha256: String,
    },
    /// Delete a file for good.
    Delete {
        /// Sequence number.
        seq: u64,
        /// The run.
        run: String,
        /// Directory, base64.
        dir: String,
        /// Name, base64.
        name: String,
        /// What the scan saw.
        identity: Identity,
        /// SHA-256 the content must have.
        sha256: String,
    },
    /// Keep the content of a file as item `id`, then replace it with new
    /// content through the temporary file `tmp` in the same directory.
    Replace {
        /// Sequence number.
        seq: u64,
        /// The run.
        run: String,
        /// The vault item that keeps the original content.
        id: String,
        /// Directory of the file, base64.
        dir: String,
        /// Name of the file in it, base64.
        name: String,
        /// What `fstat` said when the original was read.
        identity: Identity,
        /// SHA-256 of the original content.
        sha256: String,
        /// SHA-256 of the new content.
        new_sha256: String,
        /// Temporary name of the new content in `dir`, base64.
        tmp: String,
    },
    /// Restore item `id` through the temporary file `tmp` in `dir`.
    Restore {
        /// Sequence number.
        seq: u64,
        /// The item.
        id: String,
        /// Target directory, base64.
        dir: String,
        /// Temporary name in it, base64.
        tmp: String,
    },
    /// Remove item `id` from the vault for good.
    Purge {
        /// Sequence number.
        seq: u64,
        /// The item.
        id: String,
    },
    /// Step `seq` is over.
    Done {
        /// The step.
        seq: u64,
    },
}

impl Record {
    /// The sequence number of a step record.
    pub fn seq(&self) -> u64 {
        match self {
            Record::Quarantine { seq, .. }
            | Record::Delete { seq, .. }
            | Record::Replace { seq, .. }
            | Record::Restore { seq, .. }
            | Record::Purge { seq, .. }
            | Record::Done { seq } => *seq,
        }
    }
}

/// The journal file, opened for appending.
pub struct Journal {
    file: File,
    next_seq: u64,
}

impl Journal {
    /// Wraps the open journal file.
    pub fn new(file: File) -> Journal {
        Journal { file, next_seq: 1 }
    }

    /// A fresh sequence number.
    pub fn seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Appends records and makes them durable (one `fsync` for all).
    pub fn append(&mut self, records: &[Record]) -> io::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::new();
        for r in records {
            serde_json::to_writer(&mut buf, r).map_err(io::Error::other)?;
            buf.push(b'\n');
        }
        self.file.seek(SeekFrom::End(0))?;
        self.file.write_all(&buf)?;
        self.file.sync_all()
    }

    /// Steps announced and not done, in order.
    pub fn pending(&mut self) -> io::Result<Vec<Record>> {
        let mut text = Vec::new();
        self.file.seek(SeekFrom::Start(0))?;
        self.file.read_to_end(&mut text)?;
        let (steps, max_seq) = parse(&text);
        self.next_seq = self.next_seq.max(max_seq.saturating_add(1));
        Ok(steps)
    }

    /// True when the journal holds nothing.
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.file.metadata()?.len() == 0)
    }

    /// Empties the journal once every step in it is done.
    pub fn clear(&mut self) -> io::Result<()> {
        self.file.set_len(0)?;
        self.file.sync_all()
    }
}

/// The steps in a journal's text that have no `done`, in order, and the
/// highest sequence number seen.
pub fn parse(text: &[u8]) -> (Vec<Record>, u64) {
    let mut steps = Vec::new();
    let mut done = std::collections::HashSet::new();
    let mut max_seq = 0;
    for line in text.split_inclusive(|&b| b == b'\n') {
        let Some(line) = line.strip_suffix(b"\n") else {
            break; // torn tail: never durable
        };
        let Ok(rec) = serde_json::from_slice::<Record>(line) else {
            tracing::warn!("vault journal: ignoring an unreadable line");
            continue;
        };
        max_seq = max_seq.max(rec.seq());
        match rec {
            Record::Done { seq } => {
                done.insert(seq);
            }
            r => steps.push(r),
        }
    }
    steps.retain(|r| !done.contains(&r.seq()));
    (steps, max_seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident() -> Identity {
        Identity {
            dev: 1,
            ino: 2,
            size: 3,
            mtime_sec: 4,
            mtime_nsec: 5,
        }
    }

    #[test]
    fn pending_skips_done_and_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .read(true)
            .append(true)
            .open(&path)
            .unwrap();
        let mut j = Journal::new(file);
        let q = |seq| Record::Quarantine {
            seq,
            run: "r".into(),
            id: format!("id{seq}"),
            dir: "L3RtcA==".into(),
            name: "eA==".into(),
            identity: ident(),
            sha256: "00".into(),
        };
        let (a, b) = (j.seq(), j.seq());
        j.append(&[q(a), q(b)]).unwrap();
        j.append(&[Record::Done { seq: a }]).unwrap();
        // A torn line, as a crash mid-write leaves it.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"op\":\"done\",\"se")
            .unwrap();
        let pending = j.pending().unwrap();
        assert_eq!(pending, vec![q(b)]);
        assert_eq!(j.seq(), 3);
        j.clear().unwrap();
        assert!(j.is_empty().unwrap());
        assert!(j.pending().unwrap().is_empty());
    }
}
