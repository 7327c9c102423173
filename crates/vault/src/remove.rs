//! Quarantine and delete, in batches.
//!
//! One batch runs under the vault lock through these steps (each a named
//! [`fault`] point, `<action>:<step>`):
//!
//! 1. check: open each file through its directory handle without following
//!    links; device, inode, size and mtime must be what the scan saw;
//!    refuse files of other users (when not root), read-only file systems
//!    and directories we cannot write.
//! 2. `journaled`: announce every step in the journal, durably.
//! 3. `written` (quarantine): encrypt each file as a record of its lane's
//!    pack `tmp/<pack>.pack` while hashing it; the SHA-256 must be the
//!    scanned one and the file must not have changed meanwhile (else the
//!    record is cut off again). `verified` (delete): hash it again.
//! 4. `synced`: one `fdatasync` per pack makes the batch durable.
//! 5. `renamed`: rename a pack into `items/`: its items now exist, whole.
//!    `committed`: every pack renamed. `commits-synced`: the renames are
//!    durable.
//! 6. `unlinked`: check once more that the name still points to the very
//!    inode that was copied, then unlink it through the directory handle;
//!    the file is then closed on the [`crate::reaper`]'s threads.
//!    `unlinks-synced`: the directories are durable.
//! 7. `done`: the journal records the end and is emptied.
//!
//! Steps 3 and 6 are per-file work and run on up to [`LANES_MAX`] lanes
//! (threads), each with a consecutive part of the batch and, in step 3, a
//! pack of its own; everything else runs once per batch, in order. Lanes
//! change no step's meaning: recovery decides item by item.
//!
//! A crash before 5 leaves the file in place (the partial item is swept);
//! after 5, recovery finishes the removal if the file is still the very
//! same one, else keeps both. So a file is never gone without a complete
//! vault copy, and the vault never holds a half-written item.

use crate::fsops::{self, Identity, Located, reason};
use crate::item::{self, Meta, Timestamp};
use crate::journal::Record;
use crate::{Error, LogEntry, Run, Vault, b64, crypt, fault};
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

/// One file to act on, as the scan saw it.
#[derive(Clone, Debug)]
pub struct Request {
    /// Its path.
    pub path: PathBuf,
    /// What `fstat` said when it was scanned.
    pub identity: Identity,
    /// SHA-256 of what was scanned.
    pub sha256: String,
    /// The detections, kept in the item's metadata.
    pub detections: serde_json::Value,
    /// Detection names, for the run log.
    pub names: Vec<String>,
    /// The vault ID of the item this file goes with (the detected program
    /// whose autostart entry it is), if any: kept in the item's metadata,
    /// so that restoring that item restores this one too.
    pub linked: Option<String>,
}

/// What happened to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Quarantined (with its vault ID) or deleted; a note when something is
    /// worth knowing (other hard links remain).
    Done {
        /// Vault ID (quarantine).
        vault_id: Option<String>,
        /// A remark.
        note: Option<String>,
    },
    /// Not done on purpose: the file is not the one scanned, or a check
    /// failed. Nothing was changed.
    Refused(String),
    /// An error; the file was left in place.
    Failed(String),
}

/// Which action.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Into the vault.
    Quarantine,
    /// Gone for good.
    Delete,
}

impl Action {
    /// `quarantine` or `delete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Quarantine => "quarantine",
            Action::Delete => "delete",
        }
    }

    fn step(self, step: &str) -> String {
        format!("{}:{step}", self.as_str())
    }
}

/// A file of a batch, checked and open.
pub(crate) struct Prepared {
    /// Its request's index.
    pub(crate) idx: usize,
    pub(crate) loc: Located,
    /// Open for reading since the check.
    pub(crate) file: File,
    /// What `fstat` said at the check.
    pub(crate) st: fsops::Stat,
    /// Its vault item.
    pub(crate) id: String,
    pub(crate) seq: u64,
    /// Its item is in `items/`.
    pub(crate) committed: bool,
    /// For a replacement: SHA-256 of the content written in its place
    /// (the item is then of kind [`item::Kind::Replaced`]).
    pub(crate) replaced: Option<String>,
}

impl Vault {
    /// Moves the requested files into the vault. Every request gets an
    /// outcome; the run log records them all.
    pub fn quarantine(&mut self, run: &Run, reqs: &[Request]) -> Vec<Outcome> {
        self.act(Action::Quarantine, run, reqs)
    }

    /// Deletes the requested files, with the same checks as quarantine.
    pub fn delete(&mut self, run: &Run, reqs: &[Request]) -> Vec<Outcome> {
        self.act(Action::Delete, run, reqs)
    }

    fn act(&mut self, action: Action, run: &Run, reqs: &[Request]) -> Vec<Outcome> {
        let mut out: Vec<Option<Outcome>> = vec![None; reqs.len()];
        let result = self.act_locked(action, run, reqs, &mut out);
        let out: Vec<Outcome> = out
            .into_iter()
            .map(|o| match (o, &result) {
                (Some(o), _) => o,
                (None, Err(e)) => Outcome::Failed(format!("{e}; left in place")),
                (None, Ok(())) => Outcome::Failed("not processed; left in place".into()),
            })
            .collect();
        let entries: Vec<LogEntry> = reqs
            .iter()
            .zip(&out)
            .map(|(r, o)| {
                let (status, vault_id, reason) = match o {
                    Outcome::Done { vault_id, note } => ("done", vault_id.clone(), note.clone()),
                    Outcome::Refused(why) => ("refused", None, Some(why.clone())),
                    Outcome::Failed(why) => ("failed", None, Some(why.clone())),
                };
                LogEntry {
                    path: Some(r.path.to_string_lossy().into_owned()),
                    vault_id,
                    sha256: Some(r.sha256.clone()),
                    detections: r.names.clone(),
                    reason,
                    ..LogEntry::new(action.as_str(), status)
                }
            })
            .collect();
        if let Err(e) = self.append_log_with(&run.id, &entries, false) {
            tracing::warn!("{e}");
        }
        out
    }

    fn act_locked(
        &mut self,
        action: Action,
        run: &Run,
        reqs: &[Request],
        out: &mut [Option<Outcome>],
    ) -> Result<(), Error> {
        let _lock = self.lock()?;
        fault::point(&action.step("start"));
        // 1. Check.
        let mut batch = Vec::new();
        let mut dirs = DirCache::new();
        for (idx, r) in reqs.iter().enumerate() {
            match prepare(r, &mut dirs) {
                Ok((loc, file, st)) => batch.push(Prepared {
                    idx,
                    loc,
                    file,
                    st,
                    id: item::new_id(),
                    seq: 0,
                    committed: false,
                    replaced: None,
                }),
                Err(o) => out[idx] = Some(o),
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        // 2. Journal.
        let mut records = Vec::with_capacity(batch.len());
        for p in &mut batch {
            p.seq = self.journal.seq();
            let r = &reqs[p.idx];
            let (dir, name) = (
                b64(&fsops::os_bytes(p.loc.dir_path.as_os_str())),
                b64(&fsops::os_bytes(&p.loc.name)),
            );
            records.push(match action {
                Action::Quarantine => Record::Quarantine {
                    seq: p.seq,
                    run: run.id.clone(),
                    id: p.id.clone(),
                    dir,
                    name,
                    identity: r.identity,
                    sha256: r.sha256.clone(),
                },
                Action::Delete => Record::Delete {
                    seq: p.seq,
                    run: run.id.clone(),
                    dir,
                    name,
                    identity: r.identity,
                    sha256: r.sha256.clone(),
                },
            });
        }
        self.journal
            .append(&records)
            .map_err(|e| Error::io("cannot write the vault journal", &e))?;
        fault::point(&action.step("journaled"));

        // 3-5. Copy (quarantine) or verify (delete).
        match action {
            Action::Quarantine => self.store_batch("quarantine", reqs, run, &mut batch, out),
            Action::Delete => {
                // Hashing again is per-file work: on the lanes too.
                let parts: Vec<&[Prepared]> = batch.chunks(per_lane(batch.len())).collect();
                let failed = on_lanes(parts, |part| {
                    let mut failed = Vec::new();
                    for p in part {
                        if let Err(o) = verify_content(&p.file, &reqs[p.idx], &mut io::sink()) {
                            failed.push((p.idx, o));
                        }
                        fault::point(&action.step("verified"));
                    }
                    failed
                });
                for (idx, o) in failed.into_iter().flatten() {
                    out[idx] = Some(o);
                }
            }
        }

        // 6. Unlink what is ready, on the batch's lanes (different
        // directories do not contend; unlink and the checks before it are
        // system calls that wait). Each file is then closed on the
        // reaper's threads: for a removed file that close is what frees
        // it, and may wait for the device.
        let queue = self.close_queue;
        let reaper = &*self
            .reaper
            .get_or_insert_with(|| crate::reaper::Reaper::new(queue));
        let ready: Vec<Prepared> = batch.into_iter().filter(|p| out[p.idx].is_none()).collect();
        let parts = split(ready);
        let items = &self.items_fd;
        let results = on_lanes(parts, |part| unlink_lane(action, part, reaper, items));
        // One sync per file system of the removed files, not per directory.
        let mut filesystems: Vec<(u64, Located)> = Vec::new();
        let mut undo = Vec::new();
        for lane in results {
            for (idx, id, committed, outcome) in lane.outcomes {
                if committed && !matches!(outcome, Outcome::Done { .. }) {
                    undo.push(id);
                }
                out[idx] = Some(outcome);
            }
            for (dev, loc) in lane.filesystems {
                if !filesystems.iter().any(|(d, _)| *d == dev) {
                    filesystems.push((dev, loc));
                }
            }
        }
        for id in undo {
            if let Err(e) = self.discard_item(&id) {
                // Both in place and in the vault: nothing lost.
                tracing::warn!("cannot remove vault item {id}: {}", reason(&e));
            }
        }
        for (_, loc) in &filesystems {
            if let Err(e) = fsops::sync_fs(&loc.dir) {
                tracing::warn!(
                    "cannot sync the file system of {}: {}",
                    loc.dir_path.display(),
                    reason(&e)
                );
            }
        }
        fault::point(&action.step("unlinks-synced"));

        // 7. Done: emptying the journal (durably) ends every step of the
        // batch at once; no `done` lines are needed before it.
        self.journal
            .clear()
            .map_err(|e| Error::io("cannot write the vault journal", &e))?;
        fault::point(&action.step("done"));
        Ok(())
    }

    /// Steps 3-5: stores the files of `batch` as items (fault points
    /// `<prefix>:<step>`), marking each committed or failed.
    pub(crate) fn store_batch(
        &mut self,
        prefix: &str,
        reqs: &[Request],
        run: &Run,
        batch: &mut [Prepared],
        out: &mut [Option<Outcome>],
    ) {
        // One pack file per lane of the batch: creating an inode per item
        // made the file system's inode allocation and directory updates
        // the bulk of the cost, and a pack is made durable with one
        // `fdatasync` that waits for our data only (not for everything
        // dirty on the file system). The lanes read, hash, encrypt and
        // append on threads of their own, each into its own pack, so
        // nothing is shared but the vault's key; recovery looks at each
        // item, not at packs, so a batch may well span several.
        let parts: Vec<(String, &[Prepared])> = batch
            .chunks(per_lane(batch.len()))
            .map(|part| (format!("{}.pack", item::new_id()), part))
            .collect();
        let this = &*self;
        let packs = on_lanes(parts, |(name, part)| {
            this.write_pack(prefix, reqs, run, name, part)
        });
        let tmp = &self.tmp_fd;
        // Indexed by request: its pack was renamed into items/.
        let mut committed = vec![false; out.len()];
        let mut synced = Vec::new();
        for pack in packs {
            for (idx, o) in pack.failed {
                out[idx] = Some(o);
            }
            if pack.synced {
                synced.push((pack.name, pack.items));
            }
        }
        if synced.is_empty() {
            return;
        }
        fault::point(&format!("{prefix}:synced"));
        // One rename per pack: its items appear in items/ at once, each
        // whole.
        let items = &self.items_fd;
        for (name, idxs) in synced {
            match fsops::rename_at(tmp, OsStr::new(&name), items, OsStr::new(&name), true) {
                Ok(()) => {
                    for idx in idxs {
                        committed[idx] = true;
                    }
                    // Between two packs' renames: some items exist, others
                    // not yet; recovery decides each on its own.
                    fault::point(&format!("{prefix}:renamed"));
                }
                Err(e) => {
                    let _ = fsops::unlink_at(tmp, OsStr::new(&name));
                    let why = format!(
                        "cannot store it in the vault: {}; left in place",
                        reason(&e)
                    );
                    for idx in idxs {
                        out[idx].get_or_insert_with(|| Outcome::Failed(why.clone()));
                    }
                }
            }
        }
        for p in batch.iter_mut() {
            p.committed = out[p.idx].is_none() && committed[p.idx];
        }
        fault::point(&format!("{prefix}:committed"));
        // Only items/ needs to be durable: a pack whose old name in tmp/
        // comes back after a power loss is swept by the next recovery.
        if let Err(e) = fsops::fsync_dir(items) {
            tracing::warn!("cannot sync the vault: {}", reason(&e));
        }
        fault::point(&format!("{prefix}:commits-synced"));
    }

    /// Writes the records of `part` into a new pack `tmp/<name>` and makes
    /// it durable. A record that fails is cut off again and its file left
    /// in place; if the pack itself fails, every file of it is.
    fn write_pack(
        &self,
        prefix: &str,
        reqs: &[Request],
        run: &Run,
        name: String,
        part: &[Prepared],
    ) -> LanePack {
        let mut lane = LanePack {
            name: name.clone(),
            items: Vec::with_capacity(part.len()),
            failed: Vec::new(),
            synced: false,
        };
        let tmp = &self.tmp_fd;
        let name = OsStr::new(&name);
        let fail_all = |lane: &mut LanePack, why: String| {
            let _ = fsops::unlink_at(tmp, name);
            for idx in lane.items.drain(..) {
                lane.failed.push((idx, Outcome::Failed(why.clone())));
            }
        };
        let mut pack = match fsops::create_excl(tmp, name).and_then(|mut f| {
            f.write_all(item::PACK_MAGIC)?;
            Ok(f)
        }) {
            Ok(file) => Pack {
                file,
                len: item::PACK_MAGIC.len() as u64,
                broken: None,
            },
            Err(e) => {
                lane.items.extend(part.iter().map(|p| p.idx));
                fail_all(&mut lane, vault_write_error(&e));
                return lane;
            }
        };
        let mut names = Names::default();
        let mut scratch = crypt::Scratch::default();
        let written = format!("{prefix}:written");
        for p in part {
            match self.write_record(&mut pack, p, &reqs[p.idx], run, &mut names, &mut scratch) {
                Ok(()) => lane.items.push(p.idx),
                Err(o) => lane.failed.push((p.idx, o)),
            }
            fault::point(&written);
        }
        if lane.items.is_empty() {
            let _ = fsops::unlink_at(tmp, name);
            return lane;
        }
        if let Err(e) = pack.file.sync_data() {
            let why = format!(
                "cannot make the vault durable: {}; left in place",
                reason(&e)
            );
            fail_all(&mut lane, why);
            return lane;
        }
        lane.synced = true;
        lane
    }

    /// Appends item `p` to the pack: header, encrypted content, metadata.
    /// On any failure the pack is cut back to where the record began.
    fn write_record(
        &self,
        pack: &mut Pack,
        p: &Prepared,
        r: &Request,
        run: &Run,
        names: &mut Names,
        scratch: &mut crypt::Scratch,
    ) -> Result<(), Outcome> {
        if let Some(why) = &pack.broken {
            return Err(Outcome::Failed(why.clone()));
        }
        let st = &p.st;
        // Everything in the metadata is known before the content is read
        // (the content must match the scan's size and SHA-256, or the
        // record is dropped), so the header can carry exact lengths.
        let meta = Meta {
            format: item::META_FORMAT,
            id: p.id.clone(),
            original_path: r.path.to_string_lossy().into_owned(),
            original_path_base64: b64(&fsops::os_bytes(p.loc.path().as_os_str())),
            size: r.identity.size,
            sha256: r.sha256.clone(),
            mode: st.mode,
            uid: st.uid,
            gid: st.gid,
            owner: st.uid.and_then(|uid| names.user(uid)),
            group: st.gid.and_then(|gid| names.group(gid)),
            atime: Timestamp::of(st.atime),
            mtime: Timestamp::of(st.mtime),
            ctime: Timestamp::of(st.ctime),
            btime: st.btime.map(Timestamp::of),
            attributes: st.attributes,
            dev: st.dev,
            ino: st.ino,
            detections: r.detections.clone(),
            quarantined_at: item::now_rfc3339(),
            by: crate::by(),
            run: run.id.clone(),
            restores: Vec::new(),
            kind: if p.replaced.is_some() {
                item::Kind::Replaced
            } else {
                item::Kind::File
            },
            replaced_sha256: p.replaced.clone(),
            linked: r.linked.clone(),
            removal_at_reboot: None,
        };
        let json = item::meta_bytes(&meta)
            .map_err(|e| Outcome::Failed(format!("cannot record its metadata: {e}")))?;
        let content_len = crypt::stored_len(r.identity.size);
        let header = item::record_header(&p.id, content_len, json.len() as u64);
        let total = (header.len() + json.len()) as u64 + content_len;
        let cap = usize::try_from(total).unwrap_or(usize::MAX).min(256 << 10);
        let mut w = BufWriter::with_capacity(cap, &pack.file);
        let result = (|| {
            w.write_all(&header).map_err(|e| vault_error(&e))?;
            let mut h = Sha256::new();
            let mut counted = Counted {
                inner: &mut w,
                n: 0,
            };
            let mut src = &p.file;
            let n = crypt::encrypt_with(scratch, &self.key, &p.id, &mut src, &mut counted, &mut h)
                .map_err(|e| {
                    if is_write_error(&e) {
                        vault_error(&e)
                    } else {
                        Outcome::Failed(format!("cannot read it: {}; left in place", reason(&e)))
                    }
                })?;
            let written = counted.n;
            check_unchanged(&p.file, r, n, hex::encode(h.finalize()))?;
            if written != content_len {
                return Err(Outcome::Failed(
                    "its stored length is not the expected one; left in place".into(),
                ));
            }
            w.write_all(&json).map_err(|e| vault_error(&e))?;
            w.flush().map_err(|e| vault_error(&e))
        })();
        match result {
            Ok(()) => {
                pack.len += total;
                Ok(())
            }
            Err(o) => {
                // Drop what is still buffered, then cut the pack back.
                let _ = w.into_parts();
                pack.rewind();
                Err(o)
            }
        }
    }

    /// Removes item `id` for good: its record is marked purged (it is gone
    /// at once), then its content and metadata are zeroed; a pack with no
    /// item left is removed. Also finishes a purge that was interrupted.
    pub(crate) fn discard_item(&self, id: &str) -> io::Result<()> {
        let found = self
            .find(id, true)
            .map_err(|e| io::Error::other(e.to_string()))?;
        let Some((name, rec)) = found else {
            return Ok(());
        };
        let file = self.open_pack(&name, true)?;
        if rec.state == item::LIVE {
            fsops::write_all_at(&file, &[item::PURGED], rec.offset + item::STATE_OFFSET)?;
            file.sync_data()?;
        }
        fsops::zero_range(&file, rec.content.0, rec.end() - rec.content.0)?;
        file.sync_data()?;
        let items = &self.items_fd;
        let _ = fsops::unlink_at(items, OsStr::new(&format!("{id}.restored")));
        if cfg!(windows) {
            let _ = fsops::unlink_at(items, OsStr::new(&format!("{id}.reboot")));
        }
        let records = item::read_records(&file).map_err(io::Error::other)?;
        let live = records
            .iter()
            .any(|r| r.as_ref().map_or(true, |r| r.state == item::LIVE));
        if !live {
            fsops::unlink_at(items, OsStr::new(&name))?;
            fsops::fsync_dir(items)?;
        }
        Ok(())
    }
}

/// What one lane made of its part of a batch.
struct LanePack {
    /// The pack's file name (in tmp/ until committed).
    name: String,
    /// Requests whose record is in the pack.
    items: Vec<usize>,
    /// Requests that failed, with why.
    failed: Vec<(usize, Outcome)>,
    /// The pack holds `items`, durably.
    synced: bool,
}

/// What one lane of the unlink step did.
struct Unlinked {
    /// Request, vault ID, whether its item was committed, and the outcome.
    outcomes: Vec<(usize, String, bool, Outcome)>,
    /// The file systems the lane's files were on, one directory each.
    filesystems: Vec<(u64, Located)>,
}

/// Files per lane, at least: below this a thread costs more than it saves.
const LANE_MIN: usize = 32;
/// Lanes, at most; past the cores they only contend.
const LANES_MAX: usize = 4;

/// How many lanes a batch of `n` files is worked on.
fn lanes(n: usize) -> usize {
    if let Some(k) = fault::lanes() {
        return k.min(n).max(1);
    }
    let cores = std::thread::available_parallelism().map_or(1, |c| c.get());
    cores.min(LANES_MAX).min(n / LANE_MIN).max(1)
}

/// Files in each lane's part of a batch of `n` (the last may have fewer).
fn per_lane(n: usize) -> usize {
    n.div_ceil(lanes(n)).max(1)
}

/// `v` cut into the lanes' parts, as [`per_lane`] says.
fn split<T>(mut v: Vec<T>) -> Vec<Vec<T>> {
    let per = per_lane(v.len());
    let mut parts = Vec::new();
    while v.len() > per {
        let rest = v.split_off(per);
        parts.push(v);
        v = rest;
    }
    parts.push(v);
    parts
}

/// `f` of every part, in order. The parts are taken from one queue by the
/// calling thread and by a helper thread per further part; a helper that
/// cannot be started only means fewer lanes, never a part left undone.
fn on_lanes<T: Send, R: Send>(parts: Vec<T>, f: impl Fn(T) -> R + Sync) -> Vec<R> {
    let n = parts.len();
    let queue = std::sync::Mutex::new(parts.into_iter().enumerate().rev().collect::<Vec<_>>());
    let work = || {
        let mut done = Vec::new();
        loop {
            let next = queue.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match next {
                Some((i, part)) => done.push((i, f(part))),
                None => return done,
            }
        }
    };
    let mut all = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..n)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(s, work).ok())
            .collect();
        let mut all = work();
        for h in helpers {
            match h.join() {
                Ok(done) => all.extend(done),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        all
    });
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

/// Step 6 for one lane: unlink each file that is still the one copied,
/// then hand it to the reaper to be closed.
fn unlink_lane(
    action: Action,
    part: Vec<Prepared>,
    reaper: &crate::reaper::Reaper,
    items: &fsops::Dir,
) -> Unlinked {
    let mut lane = Unlinked {
        outcomes: Vec::with_capacity(part.len()),
        filesystems: Vec::new(),
    };
    for p in part {
        let outcome = match unlink_checked(&p) {
            Ok((note, fsops::Removed::AtReboot)) => {
                let mut note = note.unwrap_or_default();
                if action == Action::Quarantine
                    && let Err(e) = crate::item::record_reboot_removal(items, &p.id, &p.loc.path())
                {
                    note.push_str(&format!(
                        " (the vault item could not record it: {})",
                        reason(&e)
                    ));
                }
                Outcome::Done {
                    vault_id: (action == Action::Quarantine).then(|| p.id.clone()),
                    note: Some(note),
                }
            }
            Ok((note, fsops::Removed::Now)) => Outcome::Done {
                vault_id: (action == Action::Quarantine).then(|| p.id.clone()),
                note,
            },
            Err(o) => o,
        };
        fault::point(&action.step("unlinked"));
        if !lane.filesystems.iter().any(|(d, _)| *d == p.st.dev) {
            lane.filesystems.push((p.st.dev, p.loc));
        }
        lane.outcomes.push((p.idx, p.id, p.committed, outcome));
        reaper.close(p.file);
    }
    lane
}

/// The pack a batch is written into.
struct Pack {
    file: File,
    /// Length of the records written whole so far.
    len: u64,
    /// Set when the pack could not be cut back after a failed record:
    /// nothing more can be appended.
    broken: Option<String>,
}

impl Pack {
    fn rewind(&mut self) {
        let r = self
            .file
            .set_len(self.len)
            .and_then(|_| (&self.file).seek(SeekFrom::Start(self.len)).map(|_| ()));
        if let Err(e) = r {
            self.broken = Some(format!(
                "cannot write to the vault: {}; left in place",
                reason(&e)
            ));
        }
    }
}

/// Counts what passes through.
struct Counted<'a, W: Write> {
    inner: &'a mut W,
    n: u64,
}

impl<W: Write> Write for Counted<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let k = self.inner.write(buf)?;
        self.n += k as u64;
        Ok(k)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

fn vault_error(e: &io::Error) -> Outcome {
    Outcome::Failed(vault_write_error(e))
}

fn vault_write_error(e: &io::Error) -> String {
    format!("cannot write to the vault: {}; left in place", reason(e))
}

/// User and group names, looked up once per batch.
#[derive(Default)]
struct Names {
    users: std::collections::HashMap<u32, Option<String>>,
    groups: std::collections::HashMap<u32, Option<String>>,
}

impl Names {
    fn user(&mut self, uid: u32) -> Option<String> {
        self.users
            .entry(uid)
            .or_insert_with(|| fsops::user_name(uid))
            .clone()
    }

    fn group(&mut self, gid: u32) -> Option<String> {
        self.groups
            .entry(gid)
            .or_insert_with(|| fsops::group_name(gid))
            .clone()
    }
}

/// Writing errors are the vault's fault; reading errors are the file's.
fn is_write_error(e: &io::Error) -> bool {
    fsops::is_write_error(e)
}

/// What step 1 learns once per directory within a batch.
pub(crate) struct DirCache {
    /// Directory handles, opened without following links.
    handles: std::collections::HashMap<PathBuf, std::sync::Arc<fsops::Dir>>,
    /// Why files of a directory cannot be removed (read-only file system,
    /// no write permission), or `None` when they can.
    verdicts: std::collections::HashMap<PathBuf, Option<String>>,
    user: Option<u32>,
}

impl DirCache {
    pub(crate) fn new() -> DirCache {
        DirCache {
            handles: Default::default(),
            verdicts: Default::default(),
            user: fsops::user_id(),
        }
    }
}

/// Step 1: open the very file the scan saw.
pub(crate) fn prepare(
    r: &Request,
    dirs: &mut DirCache,
) -> Result<(Located, File, fsops::Stat), Outcome> {
    if r.sha256.is_empty() {
        return Err(Outcome::Refused(
            "the scan has no SHA-256 of it to verify against; left in place".into(),
        ));
    }
    let loc = fsops::locate_cached(&r.path, &mut dirs.handles).map_err(|e| match e.kind() {
        io::ErrorKind::NotADirectory => Outcome::Refused(format!("{e}; left in place")),
        io::ErrorKind::NotFound => Outcome::Refused("its directory is gone since the scan".into()),
        _ => Outcome::Failed(format!(
            "cannot open its directory: {}; left in place",
            reason(&e)
        )),
    })?;
    let (file, st) = fsops::open_file_nofollow_stat(&loc.dir, &loc.name).map_err(|e| {
        match (fsops::is_link_refusal(&e), e.kind()) {
            (true, _) => Outcome::Refused(
                "it is now a symbolic link; nothing was done to it or its target".into(),
            ),
            (_, io::ErrorKind::NotFound) => Outcome::Refused("it is gone since the scan".into()),
            (_, io::ErrorKind::InvalidInput) => {
                Outcome::Refused("it is no longer a regular file; left alone".into())
            }
            _ => Outcome::Failed(format!("cannot open it: {}; left in place", reason(&e))),
        }
    })?;
    if let Some(d) = Identity::of(&st).differs(&r.identity) {
        return Err(Outcome::Refused(format!(
            "{d} since the scan; left in place"
        )));
    }
    // Windows records no owner ids: the check is Unix's.
    if let (Some(me), Some(uid)) = (dirs.user, st.uid)
        && me != 0
        && uid != me
    {
        let owner = fsops::user_name(uid).unwrap_or_else(|| uid.to_string());
        return Err(Outcome::Failed(format!(
            "it belongs to {owner}, not to the user running takedown: it could not be restored with its owner (run as root); left in place"
        )));
    }
    // Per directory, not per file: the answer is the same for every file
    // of a directory within a batch.
    let verdict = dirs
        .verdicts
        .entry(loc.dir_path.clone())
        .or_insert_with(|| {
            if fsops::read_only_fs(&loc.dir) {
                Some("it is on a read-only file system; left in place".to_string())
            } else if !fsops::dir_writable(&loc.dir) {
                Some(format!(
                    "no permission to remove it from {}; left in place",
                    loc.dir_path.display()
                ))
            } else {
                None
            }
        });
    if let Some(why) = verdict {
        return Err(Outcome::Failed(why.clone()));
    }
    Ok((loc, file, st))
}

/// The file must not have changed while it was read, and must hash to what
/// was scanned.
fn check_unchanged(file: &File, r: &Request, read: u64, sha256: String) -> Result<(), Outcome> {
    let st = fsops::stat_file(file)
        .map_err(|e| Outcome::Failed(format!("cannot stat it: {}; left in place", reason(&e))))?;
    if let Some(d) = Identity::of(&st).differs(&r.identity) {
        return Err(Outcome::Refused(format!(
            "{d} while it was being read; left in place"
        )));
    }
    if read != r.identity.size || sha256 != r.sha256 {
        return Err(Outcome::Refused(format!(
            "its content is not what was scanned (SHA-256 {sha256}, scanned {}); left in place",
            r.sha256
        )));
    }
    Ok(())
}

/// Delete's verification: hash the open file again.
fn verify_content(file: &File, r: &Request, sink: &mut dyn Write) -> Result<(), Outcome> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 << 10];
    let mut src = file;
    let mut n = 0u64;
    loop {
        match src.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                h.update(&buf[..k]);
                let _ = sink.write_all(&buf[..k]);
                n += k as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(Outcome::Failed(format!(
                    "cannot read it: {}; left in place",
                    reason(&e)
                )));
            }
        }
    }
    check_unchanged(file, r, n, hex::encode(h.finalize()))
}

/// Step 6: the name must still point to the inode that was read; then
/// unlink it. `unlinkat` never follows a link, so even a swap in the last
/// instant removes at worst the name just swapped in, never a link target.
/// (On Windows the open file itself is removed, through its handle.)
fn unlink_checked(p: &Prepared) -> Result<(Option<String>, fsops::Removed), Outcome> {
    let dir = &p.loc.dir;
    let links_before = match fsops::stat_at(dir, &p.loc.name) {
        Ok(Some(now)) if (now.dev, now.ino) == (p.st.dev, p.st.ino) => now.nlink,
        Ok(Some(_)) => {
            return Err(Outcome::Refused(
                "its name was swapped for another file before removal; nothing was removed".into(),
            ));
        }
        Ok(None) => {
            return Ok((
                Some("it was already gone when it was to be removed".into()),
                fsops::Removed::Now,
            ));
        }
        Err(e) => {
            return Err(Outcome::Failed(format!(
                "cannot stat it: {}; left in place",
                reason(&e)
            )));
        }
    };
    let removed = fsops::remove_open(dir, &p.loc.name, &p.file)
        .map_err(|e| Outcome::Failed(format!("cannot remove it: {}; left in place", reason(&e))))?;
    if removed == fsops::Removed::AtReboot {
        return Ok((
            Some(
                "it is in use by another program and cannot be removed while it runs: its removal is scheduled for the next boot"
                    .into(),
            ),
            removed,
        ));
    }
    let links = links_before.saturating_sub(1);
    Ok((
        (links > 0)
            .then(|| format!("{links} other hard link(s) to the same content remain elsewhere")),
        removed,
    ))
}
