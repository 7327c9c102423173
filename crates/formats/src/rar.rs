//! RAR archives, versions 4 (1.5 to 4.x) and 5: the member list, and the
//! content of stored (uncompressed) members as slices of the archive.
//!
//! Compressed members are decoded by libunrar (the `unrar` crate), which
//! only opens archives by path: when an archive holds one, it is copied to
//! a private temporary directory for as long as it is being unpacked (see
//! [`Unrar`]). The member list and the stored members still come from the
//! own parser here; libunrar is asked only for the members it must decode.
//! Encrypted members are decoded when one of the passwords given opens
//! them; archives with encrypted headers are reported as encrypted.

use std::borrow::Cow;
use std::path::PathBuf;

use unrar::error::{Code, UnrarError, When};
use unrar::{CursorBeforeFile, CursorBeforeHeader, OpenArchive, Process};

use crate::ctx::scansize_issue;
use crate::{Ctx, Entry, Flow, Issue, RATIO_FLOOR, Sink};

const SIG4: &[u8] = b"Rar!\x1a\x07\x00";
const SIG5: &[u8] = b"Rar!\x1a\x07\x01\x00";

pub(crate) fn detect(data: &[u8]) -> bool {
    data.starts_with(SIG4) || data.starts_with(SIG5)
}

pub(crate) fn extract(
    data: &[u8],
    _name: &str,
    ctx: &mut Ctx,
    sink: &mut Sink<'_>,
) -> Result<(), Issue> {
    extract_with(data, ctx, sink, false)
}

/// [`extract`]; `force` sends every member that is not encrypted through
/// libunrar, stored ones too (tests of the libunrar glue, for want of a
/// RAR writer to make compressed members).
fn extract_with(data: &[u8], ctx: &mut Ctx, sink: &mut Sink<'_>, force: bool) -> Result<(), Issue> {
    let passwords: Vec<&[u8]> = ctx
        .limits()
        .passwords
        .iter()
        .map(Vec::as_slice)
        // libunrar takes C strings.
        .filter(|p| !p.contains(&0))
        .collect();
    let wants = |m: &Member| {
        if m.encrypted {
            !passwords.is_empty()
        } else {
            force || !m.stored
        }
    };
    // A first pass over the headers only: is libunrar needed at all?
    let mut need = false;
    let _ = members(data, ctx, &mut |_, m| {
        need = wants(&m);
        if need { Flow::Stop } else { Flow::Continue }
    });
    if !need {
        return members(data, ctx, &mut |ctx, m| member(data, m, ctx, sink));
    }
    let mut unrar = Unrar::new(data, &passwords);
    let result = members(data, ctx, &mut |ctx, m| {
        if wants(&m) {
            unrar.member(data, m, ctx, sink)
        } else {
            member(data, m, ctx, sink)
        }
    });
    result?;
    match unrar.failed {
        Some(issue) => Err(issue),
        None => Ok(()),
    }
}

/// Calls `visit` with every member (not directories) of the archive, in
/// order.
fn members(data: &[u8], ctx: &mut Ctx, visit: &mut Visit<'_>) -> Result<(), Issue> {
    if data.starts_with(SIG5) {
        v5(data, ctx, visit)
    } else {
        v4(data, ctx, visit)
    }
}

type Visit<'v> = dyn FnMut(&mut Ctx, Member) -> Flow + 'v;

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(
        d.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(
        d.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

/// One member, as the header describes it.
struct Member {
    name: String,
    /// Where its packed data starts and how long the header says it is.
    start: usize,
    packed: u64,
    stored: bool,
    method: u64,
    encrypted: bool,
    split: bool,
    /// The unpacked size, `None` where the header says it is unknown.
    unpacked: Option<u64>,
    /// The dictionary (window) size a decoder allocates for it.
    dict: u64,
}

/// Hands out one member.
fn member(data: &[u8], m: Member, ctx: &mut Ctx, sink: &mut Sink<'_>) -> Flow {
    let entry = if m.encrypted {
        Entry::failed(
            m.name.clone(),
            Issue::encrypted(format!(
                "rar: member '{}' is encrypted and no --archive-password opened it",
                m.name
            )),
        )
    } else if !m.stored {
        Entry::failed(
            m.name.clone(),
            Issue::unsupported(format!(
                "rar: member '{}' is compressed (method {}); only stored members are unpacked",
                m.name, m.method
            )),
        )
    } else {
        let end = (m.start as u64).saturating_add(m.packed);
        let s = m.start.min(data.len());
        let e = end.min(data.len() as u64) as usize;
        let issue = if end > data.len() as u64 {
            Some(Issue::corrupt(format!(
                "rar: member '{}' runs past the end of the archive; only what is there was scanned",
                m.name
            )))
        } else if m.split {
            Some(Issue::unsupported(format!(
                "rar: member '{}' spans several volumes; only this volume's part was scanned",
                m.name
            )))
        } else {
            None
        };
        Entry {
            name: m.name,
            data: Cow::Borrowed(&data[s..e]),
            issue,
        }
    };
    sink(ctx, entry)
}

/// How many times one archive is reopened in libunrar (after a member it
/// could not decode, or to try another password) before the rest of its
/// members are handed out undecoded: each reopening skips through every
/// member before the one wanted, which in a solid archive means decoding
/// them again.
const MAX_REOPEN: u32 = 16;

/// Why [`Unrar::read`] has no content.
enum Fail {
    /// Not decoded: over a limit, or no password opens it.
    Issue(Issue),
    /// libunrar failed on this member.
    Unrar(UnrarError),
    /// libunrar gave up on the archive ([`Unrar::failed`] says why).
    GaveUp,
}

/// A temporary copy of the archive, open in libunrar.
///
/// libunrar only opens archives by path, so the archive is written to
/// `archive.rar` in a fresh directory that only this user can enter
/// (0700, the file 0600, created new) and that is removed when this is
/// dropped, whichever way the unpacking ends. Nothing else is written:
/// members are read into memory (libunrar's test mode with a data
/// callback), never extracted to paths.
struct Unrar<'p> {
    /// The directory and the archive in it.
    file: Option<(tempfile::TempDir, PathBuf)>,
    passwords: &'p [&'p [u8]],
    /// The open archive, the number of members it has passed, and the
    /// password it was opened with (an index into `passwords`).
    open: Option<Open>,
    /// The index of the next member the own parser hands over.
    index: usize,
    /// Times the archive was opened.
    opened: u32,
    /// Whether it is a solid archive (as libunrar reads it).
    solid: bool,
    /// The member of a solid archive that was not decoded, if one was not:
    /// later members need it decoded first.
    solid_gap: Option<String>,
    /// Why libunrar gave up on the whole archive; the remaining members
    /// are handed out as without it.
    failed: Option<Issue>,
}

type Open = (
    OpenArchive<Process, CursorBeforeHeader>,
    usize,
    Option<usize>,
);

impl<'p> Unrar<'p> {
    fn new(data: &[u8], passwords: &'p [&'p [u8]]) -> Unrar<'p> {
        let mut u = Unrar {
            file: None,
            passwords,
            open: None,
            index: 0,
            opened: 0,
            solid: false,
            solid_gap: None,
            failed: None,
        };
        match temp_copy(data) {
            Ok(file) => u.file = Some(file),
            Err(e) => {
                u.failed = Some(Issue::unsupported(format!(
                    "rar: cannot make the temporary copy libunrar reads ({e}); compressed members were not decoded"
                )))
            }
        }
        u
    }

    /// Hands out member `m`, decoded by libunrar if it can be.
    fn member(&mut self, data: &[u8], m: Member, ctx: &mut Ctx, sink: &mut Sink<'_>) -> Flow {
        let index = self.index;
        self.index += 1;
        if self.failed.is_some() {
            return member(data, m, ctx, sink);
        }
        if let Some(gap) = &self.solid_gap {
            let issue = Issue::unsupported(format!(
                "rar: member '{}' of a solid archive follows '{gap}', which was not decoded, so it cannot be",
                m.name
            ));
            return sink(ctx, Entry::failed(m.name, issue));
        }
        if let Err(e) = ctx.check_time() {
            return sink(ctx, Entry::failed(m.name, e));
        }
        let got = if m.encrypted {
            self.encrypted(index, &m, ctx)
        } else {
            let pw = self.open.as_ref().and_then(|o| o.2);
            self.read(index, pw, &m, ctx)
        };
        if self.solid && matches!(got, Err(Fail::Issue(_) | Fail::Unrar(_))) {
            self.solid_gap = Some(m.name.clone());
        }
        let entry = match got {
            Ok(d) => Entry::new(m.name, d),
            Err(Fail::Issue(issue)) => Entry::failed(m.name, issue),
            Err(Fail::Unrar(e)) => {
                let issue = member_issue(&m.name, &e);
                Entry::failed(m.name, issue)
            }
            // As without libunrar.
            Err(Fail::GaveUp) => return member(data, m, ctx, sink),
        };
        sink(ctx, entry)
    }

    /// An encrypted member: tries every password, the one that opened the
    /// last member first.
    fn encrypted(&mut self, index: usize, m: &Member, ctx: &mut Ctx) -> Result<Vec<u8>, Fail> {
        let first = self.open.as_ref().and_then(|o| o.2);
        let order: Vec<usize> = first
            .into_iter()
            .chain((0..self.passwords.len()).filter(|&k| Some(k) != first))
            .collect();
        for k in order {
            match self.read(index, Some(k), m, ctx) {
                // RAR5 checks the password; RAR4 finds a wrong one by the
                // CRC of what it decrypted.
                Err(Fail::Unrar(e))
                    if matches!(
                        e.code,
                        Code::BadPassword | Code::MissingPassword | Code::BadData
                    ) => {}
                got => return got,
            }
        }
        Err(Fail::Issue(Issue::encrypted(format!(
            "rar: member '{}' is encrypted; none of the {} passwords given opens it",
            m.name,
            self.passwords.len()
        ))))
    }

    /// Reads member `index` into memory with password `pw`, within the
    /// limits.
    fn read(
        &mut self,
        index: usize,
        pw: Option<usize>,
        m: &Member,
        ctx: &mut Ctx,
    ) -> Result<Vec<u8>, Fail> {
        let file = self.seek(index, pw, m, ctx)?;
        let size = file.entry().unpacked_size;
        if let Err(issue) = fits(m, size, ctx) {
            // Not decoded: a non-solid archive skips past it; a solid one
            // cannot go on without decoding it (see `solid_gap`).
            if !self.solid
                && let Ok(next) = file.skip()
            {
                self.open = Some((next, index + 1, pw));
            }
            return Err(Fail::Issue(issue));
        }
        match file.read() {
            Ok((mut d, next)) => {
                self.open = Some((next, index + 1, pw));
                // libunrar stops at the declared size; in case it did not.
                d.truncate(size as usize);
                Ok(d)
            }
            Err(e) => Err(Fail::Unrar(e)),
        }
    }

    /// The archive open with password `pw` and positioned before member
    /// `index` (directories skipped, as the own parser does), reusing the
    /// open archive when it can.
    fn seek(
        &mut self,
        index: usize,
        pw: Option<usize>,
        m: &Member,
        ctx: &mut Ctx,
    ) -> Result<OpenArchive<Process, CursorBeforeFile>, Fail> {
        let (mut arc, mut at) = match self.open.take() {
            Some((arc, at, p)) if p == pw && at <= index => (arc, at),
            _ => {
                if self.opened > MAX_REOPEN {
                    return Err(self.give_up(Issue::unsupported(format!(
                        "rar: libunrar had to reopen the archive more than {MAX_REOPEN} times; the remaining compressed members were not decoded"
                    ))));
                }
                self.opened += 1;
                let Some((_, path)) = &self.file else {
                    return Err(Fail::GaveUp);
                };
                let archive = match pw {
                    Some(k) => unrar::Archive::with_password(path, self.passwords[k]),
                    None => unrar::Archive::new(path),
                };
                match archive.open_for_processing() {
                    Ok(arc) => {
                        self.solid = arc.is_solid();
                        (arc, 0)
                    }
                    Err(e) => return Err(self.give_up(archive_issue(&e))),
                }
            }
        };
        loop {
            if let Err(e) = ctx.check_time() {
                return Err(Fail::Issue(e));
            }
            let file = match arc.read_header() {
                Ok(Some(file)) => file,
                Ok(None) => {
                    return Err(self.give_up(Issue::corrupt(format!(
                        "rar: libunrar lists fewer members than the headers; '{}' and later members were not decoded",
                        m.name
                    ))));
                }
                Err(e) => return Err(self.give_up(archive_issue(&e))),
            };
            let entry = file.entry();
            if entry.is_directory() {
                // Not counted, as in the own parser.
            } else if at == index {
                if entry.is_encrypted() != m.encrypted
                    || m.unpacked.is_some_and(|u| u != entry.unpacked_size)
                {
                    return Err(self.give_up(Issue::corrupt(format!(
                        "rar: libunrar reads member '{}' differently from its header; it and later members were not decoded",
                        m.name
                    ))));
                }
                return Ok(file);
            } else {
                at += 1;
            }
            arc = match file.skip() {
                Ok(arc) => arc,
                Err(e) => return Err(self.give_up(archive_issue(&e))),
            };
        }
    }

    fn give_up(&mut self, issue: Issue) -> Fail {
        self.open = None;
        self.failed = Some(issue);
        Fail::GaveUp
    }
}

/// Copies `data` to a fresh private directory for libunrar.
fn temp_copy(data: &[u8]) -> std::io::Result<(tempfile::TempDir, PathBuf)> {
    use std::io::Write;
    let mut builder = tempfile::Builder::new();
    builder.prefix("takedown-rar-");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(std::fs::Permissions::from_mode(0o700));
    }
    let dir = builder.tempdir()?;
    #[cfg(test)]
    tests::LAST_DIR.with(|d| *d.borrow_mut() = Some(dir.path().to_path_buf()));
    let path = dir.path().join("archive.rar");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    file.write_all(data)?;
    file.flush()?;
    Ok((dir, path))
}

/// Whether a member of `size` unpacked bytes (as libunrar reads the
/// header) may be read into memory: within `max_member_size`, the budget
/// left, the ratio limit, and with a dictionary no larger than what the
/// member may expand to (libunrar allocates it whole).
fn fits(m: &Member, size: u64, ctx: &Ctx) -> Result<(), Issue> {
    let limits = ctx.limits();
    if size > limits.max_member_size {
        return Err(Issue::limit(
            "max-filesize",
            format!(
                "rar: member '{}' declares {size} bytes unpacked, over the --max-filesize limit of {} bytes; it was not decoded",
                m.name, limits.max_member_size
            ),
        ));
    }
    if size > ctx.budget_left() {
        return Err(scansize_issue(limits.max_expanded));
    }
    if limits.max_ratio > 0 && size > RATIO_FLOOR && size / m.packed.max(1) > limits.max_ratio {
        return Err(Issue::limit(
            "max-ratio",
            format!(
                "rar: member '{}' declares {size} bytes unpacked from {}, over the --max-ratio limit of {}:1 (a compression bomb?); it was not decoded",
                m.name, m.packed, limits.max_ratio
            ),
        ));
    }
    let dict_cap = limits.max_member_size.max(DICT_FLOOR);
    if !m.stored && m.dict > dict_cap {
        return Err(Issue::limit(
            "max-filesize",
            format!(
                "rar: member '{}' needs a {} byte dictionary, over the {dict_cap} bytes allowed by --max-filesize; it was not decoded",
                m.name, m.dict
            ),
        ));
    }
    Ok(())
}

/// Dictionaries up to this size are always allowed (RAR 4's largest).
const DICT_FLOOR: u64 = 4 << 20;

/// The issue of a member libunrar could not decode.
fn member_issue(name: &str, e: &UnrarError) -> Issue {
    match e.code {
        Code::BadPassword | Code::MissingPassword => Issue::encrypted(format!(
            "rar: member '{name}' is encrypted and no password given opens it (libunrar: {e})"
        )),
        Code::EOpen => Issue::unsupported(format!(
            "rar: member '{name}' continues in another volume, which is not at hand (libunrar: {e})"
        )),
        Code::UnknownFormat => Issue::unsupported(format!(
            "rar: member '{name}' uses a compression or encryption libunrar does not know (libunrar: {e})"
        )),
        _ => Issue::corrupt(format!(
            "rar: member '{name}' cannot be decoded: {e} (libunrar)"
        )),
    }
}

/// The issue of an archive libunrar could not open or list.
fn archive_issue(e: &UnrarError) -> Issue {
    match (e.code, e.when) {
        (Code::BadPassword | Code::MissingPassword, _) => Issue::encrypted(format!(
            "rar: libunrar: {e}; the members it did not decode were not unpacked"
        )),
        (Code::EOpen, When::Process) => Issue::unsupported(format!(
            "rar: libunrar: {e}; members in other volumes were not unpacked"
        )),
        _ => Issue::corrupt(format!(
            "rar: libunrar cannot read the archive ({e}); compressed members after that point were not decoded"
        )),
    }
}

fn v4(data: &[u8], ctx: &mut Ctx, visit: &mut Visit<'_>) -> Result<(), Issue> {
    let mut at = SIG4.len();
    while at < data.len() {
        ctx.check_time()?;
        let (Some(kind), Some(flags), Some(size)) =
            (data.get(at + 2), u16_at(data, at + 3), u16_at(data, at + 5))
        else {
            return Err(Issue::corrupt(format!(
                "rar: truncated block header at offset {at}"
            )));
        };
        let size = size as usize;
        if size < 7 {
            return Err(Issue::corrupt(format!(
                "rar: block header at offset {at} is {size} bytes long"
            )));
        }
        let Some(head) = data.get(at..at + size) else {
            return Err(Issue::corrupt(format!(
                "rar: truncated block header at offset {at}"
            )));
        };
        let mut add = if flags & 0x8000 != 0 {
            u32_at(head, 7).unwrap_or(0) as u64
        } else {
            0
        };
        match kind {
            0x73 if flags & 0x0080 != 0 => {
                return Err(Issue::encrypted(
                    "rar: the headers (member list) are encrypted; RAR decryption is not supported",
                ));
            }
            0x74 => {
                let (Some(packed), Some(method), Some(name_len)) =
                    (u32_at(head, 7), head.get(25), u16_at(head, 26))
                else {
                    return Err(Issue::corrupt(format!(
                        "rar: truncated file header at offset {at}"
                    )));
                };
                let mut packed = packed as u64;
                let low = u32_at(head, 11).unwrap_or(0);
                let mut unpacked = (low != u32::MAX).then_some(low as u64);
                let mut name_at = 32;
                if flags & 0x100 != 0 {
                    let high = u32_at(head, 32).unwrap_or(0) as u64;
                    packed |= high << 32;
                    let high = u32_at(head, 36).unwrap_or(0);
                    unpacked = (low != u32::MAX || high != u32::MAX)
                        .then_some((high as u64) << 32 | low as u64);
                    name_at = 40;
                }
                add = packed;
                let Some(raw) = head.get(name_at..name_at + name_len as usize) else {
                    return Err(Issue::corrupt(format!(
                        "rar: file name at offset {at} runs past its header"
                    )));
                };
                // Unicode names: the plain name comes first, up to a NUL.
                let raw = if flags & 0x200 != 0 {
                    raw.split(|&b| b == 0).next().unwrap_or(raw)
                } else {
                    raw
                };
                let dir = flags & 0xE0 == 0xE0;
                if !dir {
                    let m = Member {
                        name: String::from_utf8_lossy(raw).into_owned(),
                        start: at + size,
                        packed,
                        stored: *method == 0x30,
                        method: *method as u64,
                        encrypted: flags & 0x04 != 0,
                        split: flags & 0x03 != 0,
                        unpacked,
                        dict: 0x10000 << ((flags & 0xE0) >> 5),
                    };
                    if visit(ctx, m) == Flow::Stop {
                        return Ok(());
                    }
                }
            }
            0x7B => return Ok(()),
            _ => {}
        }
        let next = (at as u64).saturating_add(size as u64).saturating_add(add);
        if next > data.len() as u64 {
            // A member's data running past the end was said with it.
            return if *kind == 0x74 {
                Ok(())
            } else {
                Err(Issue::corrupt(format!(
                    "rar: block at offset {at} runs past the end of the archive"
                )))
            };
        }
        at = next as usize;
    }
    Ok(())
}

/// A RAR5 variable-length integer at `*at`, moving `*at` past it.
fn vint(d: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *d.get(*at)?;
        *at += 1;
        v |= ((b & 0x7F) as u64).checked_shl(7 * i)?;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

fn v5(data: &[u8], ctx: &mut Ctx, visit: &mut Visit<'_>) -> Result<(), Issue> {
    let mut at = SIG5.len();
    while at < data.len() {
        ctx.check_time()?;
        let trunc = || Issue::corrupt(format!("rar: truncated block header at offset {at}"));
        let mut p = at + 4;
        let size = vint(data, &mut p).ok_or_else(trunc)?;
        let body = p;
        let end = (body as u64).saturating_add(size);
        if size < 2 || end > data.len() as u64 {
            return Err(trunc());
        }
        let end = end as usize;
        let head = &data[..end];
        let kind = vint(head, &mut p).ok_or_else(trunc)?;
        let flags = vint(head, &mut p).ok_or_else(trunc)?;
        let extra = if flags & 1 != 0 {
            vint(head, &mut p).ok_or_else(trunc)?
        } else {
            0
        };
        let dsize = if flags & 2 != 0 {
            vint(head, &mut p).ok_or_else(trunc)?
        } else {
            0
        };
        match kind {
            4 => {
                return Err(Issue::encrypted(
                    "rar: the headers (member list) are encrypted; RAR decryption is not supported",
                ));
            }
            2 => {
                let ff = vint(head, &mut p).ok_or_else(trunc)?;
                let unpacked = vint(head, &mut p).ok_or_else(trunc)?;
                let _attr = vint(head, &mut p).ok_or_else(trunc)?;
                if ff & 2 != 0 {
                    p += 4;
                }
                if ff & 4 != 0 {
                    p += 4;
                }
                let comp = vint(head, &mut p).ok_or_else(trunc)?;
                let _os = vint(head, &mut p).ok_or_else(trunc)?;
                let nlen = vint(head, &mut p).ok_or_else(trunc)?;
                let name_end = (p as u64).saturating_add(nlen);
                if name_end > end as u64 {
                    return Err(Issue::corrupt(format!(
                        "rar: file name at offset {at} runs past its header"
                    )));
                }
                let name = String::from_utf8_lossy(&head[p..name_end as usize]).into_owned();
                // The extra area sits at the end of the header.
                let extra_at = (end as u64).saturating_sub(extra) as usize;
                let encrypted = extra > 0 && extra_records(head.get(extra_at..).unwrap_or(&[]));
                let method = (comp >> 7) & 7;
                // As libunrar reads it: 128 KiB shifted, plus 1/32 steps
                // from RAR 7 on.
                let dict = if comp & 0x3f == 0 {
                    0x20000u64 << ((comp >> 10) & 0x0f)
                } else {
                    let base = 0x20000u64 << ((comp >> 10) & 0x1f);
                    base + base / 32 * ((comp >> 15) & 0x1f)
                };
                if ff & 1 == 0 {
                    let m = Member {
                        name,
                        start: end,
                        packed: dsize,
                        stored: method == 0,
                        method,
                        encrypted,
                        split: flags & 0x18 != 0,
                        unpacked: (ff & 8 == 0).then_some(unpacked),
                        dict,
                    };
                    if visit(ctx, m) == Flow::Stop {
                        return Ok(());
                    }
                }
            }
            5 => return Ok(()),
            _ => {}
        }
        let next = (end as u64).saturating_add(dsize);
        if next > data.len() as u64 {
            return if kind == 2 {
                Ok(())
            } else {
                Err(Issue::corrupt(format!(
                    "rar: block at offset {at} runs past the end of the archive"
                )))
            };
        }
        at = next as usize;
    }
    Ok(())
}

/// True when the extra area holds a file encryption record (type 1).
fn extra_records(mut area: &[u8]) -> bool {
    for _ in 0..64 {
        let mut p = 0;
        let Some(size) = vint(area, &mut p) else {
            return false;
        };
        let start = p;
        let Some(kind) = vint(area, &mut p) else {
            return false;
        };
        if kind == 1 {
            return true;
        }
        let next = (start as u64).saturating_add(size);
        if size == 0 || next > area.len() as u64 {
            return false;
        }
        area = &area[next as usize..];
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{EICAR, random_flips, walk};
    use crate::{IssueKind, Limits};
    use std::cell::RefCell;

    thread_local! {
        /// The temporary directory libunrar read the last archive from.
        pub(super) static LAST_DIR: RefCell<Option<PathBuf>> = const { RefCell::new(None) };
    }

    /// `(name, data, issue)` of every entry, and how the archive ended.
    type Got = (Vec<(String, Vec<u8>, Option<Issue>)>, Result<(), Issue>);

    /// Extracts `data` (one level), through libunrar for every member
    /// when `force`.
    fn got(data: &[u8], limits: &Limits, force: bool) -> Got {
        LAST_DIR.with(|d| *d.borrow_mut() = None);
        let mut ctx = Ctx::new(limits, None);
        let mut out = Vec::new();
        let result = crate::extract(crate::Format::Rar, data, "a.rar", &mut ctx, &mut |_, e| {
            out.push((e.name, e.data.into_owned(), e.issue));
            Flow::Continue
        });
        if !force {
            return (out, result);
        }
        // The same through libunrar, with `extract`'s accounting left out.
        let mut ctx = Ctx::new(limits, None);
        let mut forced = Vec::new();
        let result = extract_with(
            data,
            &mut ctx,
            &mut |_, e| {
                forced.push((e.name, e.data.into_owned(), e.issue));
                Flow::Continue
            },
            true,
        );
        (forced, result)
    }

    /// The temporary directory of the last archive, checked gone.
    fn temp_dir_gone() {
        let dir = LAST_DIR
            .with(|d| d.borrow().clone())
            .expect("libunrar was used");
        assert!(
            dir.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("takedown-rar-")
        );
        assert!(!dir.exists(), "{dir:?} left behind");
    }

    #[test]
    fn libunrar_reads_stored_members_like_the_parser() {
        let files4: &[(&[u8], &[u8], u8, u16)] = &[
            (b"readme.txt", b"hello", 0x30, 0),
            (b"empty", b"", 0x30, 0),
            (b"eicar.com", EICAR, 0x30, 0),
        ];
        let files5: &[(&[u8], &[u8], u64, bool)] = &[
            (b"dir/readme.txt", b"hello", 0, false),
            (b"\xc3\xa9t\xc3\xa9.txt", b"", 0, false),
            (b"eicar.com", EICAR, 0, false),
        ];
        for data in [rar4(files4), rar5(files5)] {
            let limits = Limits::default();
            let plain = got(&data, &limits, false);
            assert!(LAST_DIR.with(|d| d.borrow().is_none()), "stored: no copy");
            let forced = got(&data, &limits, true);
            temp_dir_gone();
            assert_eq!(forced, plain);
            assert_eq!(forced.0.len(), 3);
            assert_eq!(forced.0[2].1, EICAR);
            assert!(forced.1.is_ok());
        }
    }

    #[cfg(unix)]
    #[test]
    fn temp_copy_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let (dir, path) = temp_copy(b"Rar!").unwrap();
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(dir.path()), 0o700);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(std::fs::read(&path).unwrap(), b"Rar!");
        let kept = dir.path().to_path_buf();
        drop(dir);
        assert!(!kept.exists());
    }

    #[test]
    fn declared_size_over_the_limits_is_not_read() {
        let data = rar5(&[
            (b"big.bin", &[7u8; 3000], 0, false),
            (b"small.txt", b"hello", 0, false),
        ]);
        let limits = Limits {
            max_member_size: 2000,
            ..Limits::default()
        };
        let (entries, result) = got(&data, &limits, true);
        temp_dir_gone();
        assert!(result.is_ok());
        assert_eq!(entries[0].0, "big.bin");
        assert!(entries[0].1.is_empty());
        let issue = entries[0].2.as_ref().unwrap();
        assert_eq!(issue.kind, IssueKind::Limit("max-filesize"));
        // The next member is still read (the archive is not solid).
        assert_eq!(entries[1], ("small.txt".into(), b"hello".to_vec(), None));

        let limits = Limits {
            max_expanded: 2000,
            ..Limits::default()
        };
        let (entries, _) = got(&data, &limits, true);
        let issue = entries[0].2.as_ref().unwrap();
        assert_eq!(issue.kind, IssueKind::Limit("max-scansize"));
    }

    #[test]
    fn libunrar_failures_fall_back() {
        // A data CRC that does not match: that member is corrupt, the
        // archive is reopened for the next one.
        let mut data = rar4(&[(b"a.txt", b"aaaa", 0x30, 0), (b"b.txt", b"bbbb", 0x30, 0)]);
        let at = data.windows(4).position(|w| w == b"aaaa").unwrap();
        data[at] = b'x';
        let (entries, result) = got(&data, &Limits::default(), true);
        temp_dir_gone();
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(entries[0].0, "a.txt");
        assert_eq!(entries[0].2.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert_eq!(entries[1], ("b.txt".into(), b"bbbb".to_vec(), None));

        // An archive libunrar rejects (no main header): the members are
        // handed out as the parser sees them, plus libunrar's complaint.
        let mut data = rar5(&[(b"a.txt", b"aaaa", 0, false), (b"b.txt", b"bbbb", 0, false)]);
        let head = SIG5.len() + block5(&[1, 0, 0]).len();
        data.drain(SIG5.len()..head);
        let plain = got(&data, &Limits::default(), false);
        let (entries, result) = got(&data, &Limits::default(), true);
        temp_dir_gone();
        assert_eq!(entries, plain.0);
        assert_eq!(result.unwrap_err().kind, IssueKind::Corrupt);

        // Not a RAR archive at all past the signature.
        let mut data = SIG4.to_vec();
        data.extend(block4(0x73, 0, &[0; 6]));
        let (entries, result) = got(&data, &Limits::default(), true);
        assert!(entries.is_empty());
        let _ = result;
    }

    #[test]
    fn passwords_on_bogus_encrypted_members() {
        // An encryption record with no salt: what libunrar decrypts fails
        // the CRC with every password.
        let data = rar5(&[
            (b"secret.exe", &[b'y'; 32], 0, true),
            (b"plain.txt", b"zz", 0, false),
        ]);
        let limits = Limits {
            passwords: vec![b"infected".to_vec(), b"with\0nul".to_vec()],
            ..Limits::default()
        };
        let (entries, _) = got(&data, &limits, false);
        temp_dir_gone();
        assert_eq!(entries[0].0, "secret.exe");
        assert!(entries[0].1.is_empty());
        assert_eq!(entries[0].2.as_ref().unwrap().kind, IssueKind::Encrypted);
        assert_eq!(entries[1].0, "plain.txt");
        assert_eq!(entries[1].1, b"zz");
    }

    /// A RAR4 block: CRC16 of the rest, then the rest.
    fn block4(kind: u8, flags: u16, fields: &[u8]) -> Vec<u8> {
        let mut rest = vec![kind];
        rest.extend_from_slice(&flags.to_le_bytes());
        rest.extend_from_slice(&((7 + fields.len()) as u16).to_le_bytes());
        rest.extend_from_slice(fields);
        let mut b = (crc32fast::hash(&rest) as u16).to_le_bytes().to_vec();
        b.extend(rest);
        b
    }

    /// A RAR4 archive of `(name, data, method, flags)`.
    fn rar4(files: &[(&[u8], &[u8], u8, u16)]) -> Vec<u8> {
        let mut out = SIG4.to_vec();
        out.extend(block4(0x73, 0, &[0; 6]));
        for (name, data, method, flags) in files {
            let mut f = Vec::new();
            f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            f.extend_from_slice(&(data.len() as u32).to_le_bytes());
            f.push(2);
            f.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
            f.extend_from_slice(&0u32.to_le_bytes());
            f.push(29);
            f.push(*method);
            f.extend_from_slice(&(name.len() as u16).to_le_bytes());
            f.extend_from_slice(&0x20u32.to_le_bytes());
            f.extend_from_slice(name);
            out.extend(block4(0x74, 0x8000 | flags, &f));
            out.extend_from_slice(data);
        }
        out.extend(block4(0x7B, 0x4000, &[]));
        out
    }

    fn v(mut n: u64, out: &mut Vec<u8>) {
        loop {
            let b = (n & 0x7F) as u8;
            n >>= 7;
            if n == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    /// A RAR5 block: CRC32, size, then `body` (type onwards).
    fn block5(body: &[u8]) -> Vec<u8> {
        let mut sized = Vec::new();
        v(body.len() as u64, &mut sized);
        sized.extend_from_slice(body);
        let mut b = crc32fast::hash(&sized).to_le_bytes().to_vec();
        b.extend(sized);
        b
    }

    /// A RAR5 archive of `(name, data, method, encrypted)`.
    fn rar5(files: &[(&[u8], &[u8], u64, bool)]) -> Vec<u8> {
        let mut out = SIG5.to_vec();
        out.extend(block5(&[1, 0, 0]));
        for (name, data, method, enc) in files {
            let mut extra = Vec::new();
            if *enc {
                let rec = [1u8, 0, 0, 0, 0];
                v(rec.len() as u64, &mut extra);
                extra.extend_from_slice(&rec);
            }
            let mut b = vec![2u8];
            b.push(if *enc { 3 } else { 2 });
            if *enc {
                v(extra.len() as u64, &mut b);
            }
            v(data.len() as u64, &mut b);
            b.push(4);
            v(data.len() as u64, &mut b);
            b.push(0x20);
            b.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
            v(method << 7, &mut b);
            b.push(0);
            v(name.len() as u64, &mut b);
            b.extend_from_slice(name);
            b.extend_from_slice(&extra);
            out.extend(block5(&b));
            out.extend_from_slice(data);
        }
        out.extend(block5(&[5, 0, 0]));
        out
    }

    #[test]
    fn nested_rar5_rar4_finds_eicar() {
        let inner = rar4(&[
            (b"readme.txt", b"hello", 0x30, 0),
            (b"eicar.com", EICAR, 0x30, 0),
        ]);
        let outer = rar5(&[(b"dir/inner.rar", &inner, 0, false)]);
        assert!(detect(&outer) && detect(&inner));
        let w = walk(&outer, "outer.rar");
        let found = w.found.iter().find(|f| f.data == EICAR).unwrap();
        assert_eq!(found.chain, "dir/inner.rar!eicar.com");
        assert_eq!(
            w.chains(),
            [
                "dir/inner.rar",
                "dir/inner.rar!readme.txt",
                "dir/inner.rar!eicar.com"
            ]
        );
        assert!(w.issues.is_empty(), "{:?}", w.issues);
        // And the other way round.
        let inner = rar5(&[(b"eicar.com", EICAR, 0, false)]);
        let outer = rar4(&[(b"inner.rar", &inner, 0x30, 0)]);
        let w = walk(&outer, "outer.rar");
        let found = w.found.iter().find(|f| f.data == EICAR).unwrap();
        assert_eq!(found.chain, "inner.rar!eicar.com");
    }

    #[test]
    fn compressed_and_encrypted_members_are_listed() {
        let data = rar4(&[
            (b"packed.exe", b"xxxx", 0x33, 0),
            (b"secret.exe", b"yyyy", 0x30, 0x04),
            (b"plain.txt", b"zz", 0x30, 0),
        ]);
        let w = walk(&data, "a.rar");
        assert_eq!(w.chains(), ["packed.exe", "secret.exe", "plain.txt"]);
        // libunrar tries to decode the junk.
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert!(w.found[0].data.is_empty());
        assert_eq!(
            w.found[1].issue.as_ref().unwrap().kind,
            IssueKind::Encrypted
        );
        assert_eq!(w.found[2].data, b"zz");

        let data = rar5(&[
            (b"packed.exe", b"xxxx", 3, false),
            (b"secret.exe", b"yyyy", 0, true),
            (b"plain.txt", b"zz", 0, false),
        ]);
        let w = walk(&data, "a.rar");
        assert_eq!(w.chains(), ["packed.exe", "secret.exe", "plain.txt"]);
        // libunrar tries to decode the junk.
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        assert!(w.found[0].data.is_empty());
        assert_eq!(
            w.found[1].issue.as_ref().unwrap().kind,
            IssueKind::Encrypted
        );
        assert_eq!(w.found[2].data, b"zz");
    }

    #[test]
    fn encrypted_headers() {
        let mut data = SIG5.to_vec();
        data.extend(block5(&[4, 0, 0, 0]));
        let w = walk(&data, "h.rar");
        assert_eq!(w.issues[0].1.kind, IssueKind::Encrypted);
        let mut data = SIG4.to_vec();
        data.extend(block4(0x73, 0x80, &[0; 6]));
        let w = walk(&data, "h.rar");
        assert_eq!(w.issues[0].1.kind, IssueKind::Encrypted);
    }

    #[test]
    fn odd_names_and_huge_sizes() {
        let data = rar5(&[(b"../../etc/\xff\x1b[0m", EICAR, 0, false)]);
        let w = walk(&data, "n.rar");
        assert_eq!(w.chains(), ["../../etc/\u{fffd}\x1b[0m"]);
        let data = rar4(&[(b"/abs\\..\\x", EICAR, 0x30, 0)]);
        let w = walk(&data, "n.rar");
        assert_eq!(w.chains(), ["/abs\\..\\x"]);

        // A RAR4 member claiming 2^63 bytes (large-file flag) is cut at the
        // end of the archive.
        let mut data = rar4(&[(b"big", EICAR, 0x30, 0)]);
        let fh = SIG4.len() + 13;
        let mut fields = data[fh + 7..fh + 32 + 3].to_vec();
        fields.splice(25..25, u64::MAX.to_le_bytes());
        let mut big = SIG4.to_vec();
        big.extend(block4(0x73, 0, &[0; 6]));
        big.extend(block4(0x74, 0x8100, &fields));
        big.extend_from_slice(EICAR);
        let w = walk(&big, "b.rar");
        assert_eq!(w.chains(), ["big"]);
        assert_eq!(w.found[0].data, EICAR);
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
        data.truncate(data.len() - 20);
        let w = walk(&data, "b.rar");
        assert_eq!(w.found[0].issue.as_ref().unwrap().kind, IssueKind::Corrupt);
    }

    #[test]
    fn truncated_and_flipped_do_not_panic() {
        let inner = rar4(&[(b"eicar.com", EICAR, 0x30, 0), (b"c", b"cc", 0x33, 0)]);
        let data = rar5(&[(b"inner.rar", &inner, 0, false), (b"x", b"y", 0, true)]);
        for d in [&inner, &data] {
            for cut in 0..d.len() {
                let w = walk(&d[..cut], "t.rar");
                assert!(w.found.len() <= 4);
            }
        }
        random_flips(&data, 0x1b87_3593, 5000, 3, |d| {
            let _ = walk(d, "f.rar");
        });
    }

    #[test]
    fn no_false_positives() {
        assert!(!detect(b"hello world, this is plain text and nothing more"));
        assert!(!detect(b"\x7fELF\x02\x01\x01\x00"));
        assert!(!detect(b"Rar!"));
    }
}
