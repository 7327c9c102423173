//! Sealed packages: a case's bag as one tar archive, optionally encrypted
//! to the recipients' keys with age, which the standard tools open
//! (`age -d -i KEY FILE | tar -x`), and the `VERIFY.txt` that tells the
//! recipient how to check it without takedown.
//!
//! The archive holds the bag under one top directory (the bag's name):
//! the tag files first, sorted, then `data/`, sorted, so two seals of the
//! same case list the same members in the same order. `.takedown/` (the
//! case's private state) is never sealed. Names that do not fit a ustar
//! header (long, or not ASCII) get a pax `path` record, which every
//! current tar reads. Members keep their modification time; modes are
//! normalised (0644 files, 0755 directories) and owners are 0, so the
//! examiner's account names do not travel with the evidence.

use crate::contents::open_nofollow;
use crate::{Error, bagit};
use sha2::Digest as _;
use std::fs;
use std::io::{self, BufRead, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

/// The first bytes of a binary age file.
pub const AGE_MAGIC: &[u8] = b"age-encryption.org/v1\n";
/// The first line of an ASCII-armored age file.
const AGE_ARMOR: &[u8] = b"-----BEGIN AGE ENCRYPTED FILE-----";
/// Largest identity file read: real ones are a few kilobytes (an RSA
/// private key); a bigger "key" is a mistake or an attack on memory.
const MAX_IDENTITY_FILE: u64 = 1024 * 1024;
/// Bytes copied at a time into the archive.
const COPY_BUF: usize = 1024 * 1024;

/// What [`write_archive`] wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveInfo {
    /// The archive file's size.
    pub bytes: u64,
    /// The SHA-256 of the archive file as written (encrypted, when it is),
    /// hex: what the custody log records of the package.
    pub sha256: String,
    /// Whether it is encrypted with age.
    pub encrypted: bool,
}

/// Writes the bag in `dir` to the archive `out`: a tar whose top directory
/// is `name`, encrypted to `recipients` with age when there are any
/// (`age1...` X25519 keys, `ssh-ed25519 ...` and `ssh-rsa ...` OpenSSH
/// public keys). The archive is written to a temporary file beside `out`,
/// fsynced and renamed, so a crash never leaves half an archive under
/// `out`'s name. A link or special file in the bag, or a recipient that is
/// none of these kinds, is refused before anything is written.
pub fn write_archive(
    dir: &Path,
    name: &str,
    out: &Path,
    recipients: &[String],
) -> Result<ArchiveInfo, Error> {
    if !bagit::is_safe_bag_path(name) || name.contains('/') {
        return Err(Error::Invalid(format!(
            "seal: {name:?} cannot be the archive's top directory (one plain name)"
        )));
    }
    let recipients = parse_recipients(recipients)?;
    let mut members = bagit::tag_files(dir)?;
    for alg in bagit::ALGORITHMS {
        let t = format!("tagmanifest-{alg}.txt");
        if dir.join(&t).is_file() {
            members.push(t);
        }
    }
    members.sort();
    let mut payload = Vec::new();
    let data = dir.join(crate::DATA_DIR);
    if fs::symlink_metadata(&data).is_ok_and(|m| m.is_dir()) {
        walk_payload(&data, crate::DATA_DIR, &mut payload)?;
    }
    payload.sort();
    members.extend(payload);

    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let file_name = out
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| Error::Invalid(format!("seal: {} names no file", out.display())))?;
    let mut rnd = [0u8; 8];
    let _ = getrandom::fill(&mut rnd);
    let tmp = parent.join(format!(".{file_name}.{}.tmp", hex::encode(rnd)));
    let what = || format!("seal: writing {}", out.display());
    let file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .map_err(|e| Error::io(what(), &e))?;
    let encrypted = !recipients.is_empty();
    let result = (|| {
        let counted = BufWriter::with_capacity(COPY_BUF, HashingWriter::new(file));
        let sink = if encrypted {
            let enc = age::Encryptor::with_recipients(
                recipients.iter().map(|r| r.as_ref() as &dyn age::Recipient),
            )
            .map_err(|e| Error::Invalid(format!("seal: encrypting: {e}")))?;
            Sink::Age(
                enc.wrap_output(counted)
                    .map_err(|e| Error::io(what(), &e))?,
            )
        } else {
            Sink::Plain(counted)
        };
        let mut builder = tar::Builder::new(sink);
        write_members(&mut builder, dir, name, &members)?;
        let sink = builder.into_inner().map_err(|e| Error::io(what(), &e))?;
        let hw = sink.finish().map_err(|e| Error::io(what(), &e))?;
        let (file, bytes, sha256) = hw.finish();
        file.sync_all().map_err(|e| Error::io(what(), &e))?;
        drop(file);
        fs::rename(&tmp, out).map_err(|e| Error::io(what(), &e))?;
        let _ = crate::sync_dir(parent);
        Ok(ArchiveInfo {
            bytes,
            sha256,
            encrypted,
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Parses recipient strings, refusing any that is not an age X25519 key
/// or an OpenSSH ed25519/RSA public key.
pub fn parse_recipients(
    recipients: &[String],
) -> Result<Vec<Box<dyn age::Recipient + Send>>, Error> {
    let mut out: Vec<Box<dyn age::Recipient + Send>> = Vec::new();
    for r in recipients {
        let r = r.trim();
        if r.starts_with("age1") {
            let k = r.parse::<age::x25519::Recipient>().map_err(|e| {
                Error::Invalid(format!("seal: recipient {r:?} is not a valid age key: {e}"))
            })?;
            out.push(Box::new(k));
        } else if r.starts_with("ssh-ed25519 ") || r.starts_with("ssh-rsa ") {
            let k = r.parse::<age::ssh::Recipient>().map_err(|e| {
                Error::Invalid(format!(
                    "seal: recipient {:?} is not a valid OpenSSH public key: {e:?}",
                    short(r)
                ))
            })?;
            out.push(Box::new(k));
        } else {
            return Err(Error::Invalid(format!(
                "seal: recipient {:?} is not an age key (age1...) or an OpenSSH public key (ssh-ed25519 ... or ssh-rsa ...)",
                short(r)
            )));
        }
    }
    Ok(out)
}

/// The start of a long string, for a message.
fn short(s: &str) -> String {
    let mut out: String = s.chars().take(40).collect();
    if out.len() < s.len() {
        out.push_str("...");
    }
    out
}

/// Lists the payload files under `dir` (bag path `rel`), refusing links
/// and special files.
fn walk_payload(dir: &Path, rel: &str, out: &mut Vec<String>) -> Result<(), Error> {
    let what = || format!("seal: reading {}", dir.display());
    for entry in fs::read_dir(dir).map_err(|e| Error::io(what(), &e))? {
        let entry = entry.map_err(|e| Error::io(what(), &e))?;
        let name = entry.file_name().into_string().map_err(|n| {
            Error::Invalid(format!(
                "seal: {rel}/{} is not a UTF-8 name; a bag cannot list it",
                n.to_string_lossy()
            ))
        })?;
        let path = format!("{rel}/{name}");
        let ft = entry.file_type().map_err(|e| Error::io(what(), &e))?;
        if ft.is_dir() {
            walk_payload(&entry.path(), &path, out)?;
        } else if ft.is_file() {
            out.push(path);
        } else {
            return Err(Error::Refused(format!(
                "seal: {path} is a symbolic link or special file; a bag holds only files"
            )));
        }
    }
    Ok(())
}

/// Appends the top directory, then each member (its directories first).
fn write_members<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &Path,
    name: &str,
    members: &[String],
) -> Result<(), Error> {
    let mut dirs_done = std::collections::BTreeSet::new();
    append_dir(builder, dir, name, "")?;
    for m in members {
        let mut prefix = String::new();
        let comps: Vec<&str> = m.split('/').collect();
        for c in comps.iter().take(comps.len().saturating_sub(1)) {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(c);
            if dirs_done.insert(prefix.clone()) {
                append_dir(builder, dir, name, &prefix)?;
            }
        }
        let full = bagit::bag_path_on_disk(dir, m);
        let what = || format!("seal: reading {m}");
        let file = open_nofollow(&full).map_err(|e| Error::io(what(), &e))?;
        let meta = file.metadata().map_err(|e| Error::io(what(), &e))?;
        // Big reads: io::copy goes through the BufReader's buffer.
        let file = BufReader::with_capacity(COPY_BUF, file);
        let mut header = tar::Header::new_ustar();
        header.set_entry_type(tar::EntryType::Regular);
        header.set_size(meta.len());
        header.set_mode(0o644);
        header.set_mtime(mtime_secs(&meta));
        header.set_uid(0);
        header.set_gid(0);
        let path = format!("{name}/{m}");
        set_member_path(builder, &mut header, &path)?;
        header.set_cksum();
        let reader = Exact {
            inner: file,
            left: meta.len(),
            what: m,
        };
        builder
            .append(&header, reader)
            .map_err(|e| Error::io(format!("seal: adding {m}"), &e))?;
    }
    Ok(())
}

/// Appends the directory `rel` of the bag (`""`: the top directory).
fn append_dir<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &Path,
    name: &str,
    rel: &str,
) -> Result<(), Error> {
    let on_disk = if rel.is_empty() {
        dir.to_path_buf()
    } else {
        bagit::bag_path_on_disk(dir, rel)
    };
    let meta = fs::symlink_metadata(&on_disk)
        .map_err(|e| Error::io(format!("seal: reading {}", on_disk.display()), &e))?;
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(tar::EntryType::Directory);
    header.set_size(0);
    header.set_mode(0o755);
    header.set_mtime(mtime_secs(&meta));
    header.set_uid(0);
    header.set_gid(0);
    let path = if rel.is_empty() {
        format!("{name}/")
    } else {
        format!("{name}/{rel}/")
    };
    set_member_path(builder, &mut header, &path)?;
    header.set_cksum();
    builder
        .append(&header, io::empty())
        .map_err(|e| Error::io(format!("seal: adding {path}"), &e))
}

/// A file's modification time in whole seconds since the epoch (0 for a
/// time before it, which a ustar header cannot hold).
fn mtime_secs(meta: &fs::Metadata) -> u64 {
    meta.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// Sets `path` in `header`, first appending a pax extended header with
/// its `path` record when it is not ASCII or does not fit ustar's fields.
fn set_member_path<W: Write>(
    builder: &mut tar::Builder<W>,
    header: &mut tar::Header,
    path: &str,
) -> Result<(), Error> {
    if path.is_ascii() && header.set_path(path).is_ok() {
        return Ok(());
    }
    let record = pax_record("path", path.as_bytes());
    let mut pax = tar::Header::new_ustar();
    pax.set_entry_type(tar::EntryType::XHeader);
    pax.set_size(record.len() as u64);
    pax.set_mode(0o644);
    // Readers that know pax use the record; the name of the extended
    // header itself follows GNU tar's habit.
    let _ = pax.set_path("PaxHeaders/member");
    pax.set_cksum();
    builder
        .append(&pax, record.as_slice())
        .map_err(|e| Error::io(format!("seal: adding {path}"), &e))?;
    // The ustar name of a pax member is only a fallback for old readers:
    // the path's last 100 bytes, non-ASCII bytes as `_`.
    let bytes: Vec<u8> = path
        .bytes()
        .map(|b| if b.is_ascii() && b != 0 { b } else { b'_' })
        .collect();
    let tail = bytes
        .get(bytes.len().saturating_sub(100)..)
        .unwrap_or_default();
    if let Some(ustar) = header.as_ustar_mut() {
        ustar.name = [0; 100];
        if let Some(dst) = ustar.name.get_mut(..tail.len()) {
            dst.copy_from_slice(tail);
        }
        ustar.prefix = [0; 155];
    }
    Ok(())
}

/// One pax extended-header record: `"<len> <key>=<value>\n"`, where
/// `<len>` counts the whole record, itself included.
fn pax_record(key: &str, value: &[u8]) -> Vec<u8> {
    let rest = key.len() + value.len() + 3;
    let mut len = rest + 1;
    while len != rest + len.to_string().len() {
        len = rest + len.to_string().len();
    }
    let mut out = format!("{len} {key}=").into_bytes();
    out.extend_from_slice(value);
    out.push(b'\n');
    out
}

/// A reader giving exactly `left` bytes of a file whose size was put in a
/// tar header: a file that shrinks meanwhile is an error rather than a
/// corrupt archive, and one that grows is cut at the size recorded.
struct Exact<'a> {
    inner: BufReader<fs::File>,
    left: u64,
    what: &'a str,
}

impl Read for Exact<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 || out.is_empty() {
            return Ok(0);
        }
        let want = out
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(out.get_mut(..want).unwrap_or_default())?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("{} shrank while it was being sealed", self.what),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

/// Counts and hashes what goes to the file.
struct HashingWriter {
    file: fs::File,
    bytes: u64,
    sha256: sha2::Sha256,
}

impl HashingWriter {
    fn new(file: fs::File) -> HashingWriter {
        HashingWriter {
            file,
            bytes: 0,
            sha256: sha2::Sha256::new(),
        }
    }

    fn finish(self) -> (fs::File, u64, String) {
        (self.file, self.bytes, hex::encode(self.sha256.finalize()))
    }
}

impl Write for HashingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        let written = buf.get(..n).unwrap_or_default();
        self.sha256.update(written);
        self.bytes += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// The archive's destination: plain, or through age.
enum Sink {
    Plain(BufWriter<HashingWriter>),
    Age(age::stream::StreamWriter<BufWriter<HashingWriter>>),
}

impl Sink {
    /// Ends the stream (age's last chunk) and flushes it to the file.
    fn finish(self) -> io::Result<HashingWriter> {
        let buffered = match self {
            Sink::Plain(w) => w,
            Sink::Age(w) => w.finish()?,
        };
        buffered.into_inner().map_err(|e| e.into_error())
    }
}

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Sink::Plain(w) => w.write(buf),
            Sink::Age(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Sink::Plain(w) => w.flush(),
            Sink::Age(w) => w.flush(),
        }
    }
}

/// Opens a sealed package for reading its tar stream: a plain tar as it
/// is, an age-encrypted one (recognised by its header) decrypted with the
/// `identities` files (age identity files holding `AGE-SECRET-KEY-1...`
/// lines, or unencrypted OpenSSH private keys). Encrypted with no identity
/// given, or with none that opens it, is a clear error naming the
/// package; so is an ASCII-armored age file or a passphrase-protected SSH
/// key (decrypt those with `age -d` first).
pub fn open_archive(path: &Path, identities: &[PathBuf]) -> Result<Box<dyn Read>, Error> {
    let what = || format!("opening {}", path.display());
    let file = fs::File::open(path).map_err(|e| Error::io(what(), &e))?;
    let mut reader = BufReader::with_capacity(COPY_BUF, file);
    let head = reader.fill_buf().map_err(|e| Error::io(what(), &e))?;
    if head.starts_with(AGE_ARMOR) {
        return Err(Error::Invalid(format!(
            "{} is an ASCII-armored age file; decrypt it with `age -d -i KEY` and verify the tar",
            path.display()
        )));
    }
    if !head.starts_with(AGE_MAGIC) {
        return Ok(Box::new(reader));
    }
    if identities.is_empty() {
        return Err(Error::Refused(format!(
            "{} is encrypted (age); give the identity file of a key it was sealed to",
            path.display()
        )));
    }
    let mut ids: Vec<Box<dyn age::Identity>> = Vec::new();
    for id in identities {
        ids.extend(load_identity(id)?);
    }
    let decryptor = age::Decryptor::new_buffered(reader)
        .map_err(|e| Error::Invalid(format!("{}: not a valid age file: {e}", path.display())))?;
    match decryptor.decrypt(ids.iter().map(|i| i.as_ref() as &dyn age::Identity)) {
        Ok(r) => Ok(Box::new(r)),
        Err(age::DecryptError::NoMatchingKeys) => Err(Error::Refused(format!(
            "{} was not sealed to any of the keys in {}",
            path.display(),
            identities
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
        Err(e) => Err(Error::Invalid(format!(
            "{}: cannot decrypt: {e}",
            path.display()
        ))),
    }
}

/// The identities in one identity file.
fn load_identity(path: &Path) -> Result<Vec<Box<dyn age::Identity>>, Error> {
    let what = || format!("reading the identity file {}", path.display());
    let file = fs::File::open(path).map_err(|e| Error::io(what(), &e))?;
    let mut bytes = Vec::new();
    file.take(MAX_IDENTITY_FILE + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(what(), &e))?;
    if bytes.len() as u64 > MAX_IDENTITY_FILE {
        return Err(Error::Invalid(format!(
            "{}: over {MAX_IDENTITY_FILE} bytes; not an identity file",
            path.display()
        )));
    }
    let shown = path.display().to_string();
    if bytes.windows(15).any(|w| w == b"AGE-SECRET-KEY-") {
        let f = age::IdentityFile::from_buffer(bytes.as_slice())
            .map_err(|e| Error::Invalid(format!("{shown}: {e}")))?;
        return f
            .into_identities()
            .map_err(|e| Error::Invalid(format!("{shown}: {e}")));
    }
    if bytes.starts_with(b"-----BEGIN ") {
        let id = age::ssh::Identity::from_buffer(bytes.as_slice(), Some(shown.clone())).map_err(
            |e| Error::Invalid(format!("{shown}: not an SSH private key age can use: {e}")),
        )?;
        return match id {
            age::ssh::Identity::Unencrypted(_) => Ok(vec![Box::new(id)]),
            age::ssh::Identity::Encrypted(_) => Err(Error::Refused(format!(
                "{shown} is protected by a passphrase; decrypt the package with `age -d -i {shown}` (which asks for it) and verify the tar"
            ))),
            age::ssh::Identity::Unsupported(_) => Err(Error::Invalid(format!(
                "{shown}: an SSH key type age cannot decrypt with (ed25519 and RSA only)"
            ))),
        };
    }
    Err(Error::Invalid(format!(
        "{shown} is neither an age identity file (AGE-SECRET-KEY-1...) nor an OpenSSH private key"
    )))
}

/// What `VERIFY.txt` names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyInfo {
    /// The case id.
    pub case_id: String,
    /// The bag's directory name (the archive's top directory).
    pub bag_name: String,
    /// The principals of `custody/allowed_signers` (the examiners).
    pub principals: Vec<String>,
    /// The custody entries' file stems (`000001`, ...), in order.
    pub entries: Vec<String>,
    /// The timestamps' file stems, in order.
    pub stamps: Vec<String>,
    /// Whether the package is encrypted with age.
    pub encrypted: bool,
    /// The fingerprints of the examiners' keys (`SHA256:...`).
    pub key_fingerprints: Vec<String>,
}

/// The text of `VERIFY.txt`: how to open the package and the independent
/// commands, with their exact arguments, that check it without takedown.
/// Plain ASCII (names from the case are shown with anything else
/// replaced), so it reads the same in every terminal.
pub fn verify_txt(info: &VerifyInfo) -> String {
    let bag = ascii(&info.bag_name);
    let mut t = String::new();
    let line = |t: &mut String, s: &str| {
        t.push_str(s);
        t.push('\n');
    };
    line(
        &mut t,
        &format!("Evidence package of case {}", ascii(&info.case_id)),
    );
    line(&mut t, &"=".repeat(24 + ascii(&info.case_id).len()));
    line(&mut t, "");
    line(
        &mut t,
        "This package is a BagIt bag (RFC 8493) with a signed, hash-chained custody",
    );
    line(
        &mut t,
        "log and RFC 3161 timestamps. Each step below uses a standard tool only; run",
    );
    line(
        &mut t,
        "them all. `takedown evidence verify` does all of them at once.",
    );
    line(&mut t, "");
    line(&mut t, "1. Open the package");
    line(&mut t, "");
    if info.encrypted {
        line(
            &mut t,
            "   It is encrypted to your key with age (https://age-encryption.org):",
        );
        line(&mut t, "");
        line(&mut t, "     age -d -i YOUR_KEY PACKAGE | tar -x");
        line(&mut t, "");
        line(
            &mut t,
            "   (YOUR_KEY: your age identity file or your OpenSSH private key.)",
        );
    } else {
        line(&mut t, "     tar -xf PACKAGE");
    }
    line(&mut t, "");
    line(&mut t, &format!("   This makes the directory {bag}/."));
    line(&mut t, "");
    line(&mut t, "2. Check every file against the manifests");
    line(&mut t, "");
    line(
        &mut t,
        "   bagit.py (PyPI: pip install bagit), all digests recomputed:",
    );
    line(&mut t, "");
    line(&mut t, &format!("     bagit.py --validate {bag}"));
    line(&mut t, "");
    line(
        &mut t,
        "   hashdeep (Debian: apt install hashdeep), from the bag root:",
    );
    line(&mut t, "");
    line(
        &mut t,
        &format!("     cd {bag} && {}", bagit::HASHDEEP_COMMAND),
    );
    line(&mut t, "");
    line(
        &mut t,
        &format!("   Steps 3 to 6 are run from the bag root too (cd {bag})."),
    );
    line(&mut t, "");
    line(
        &mut t,
        "3. Check the signature of every custody entry (OpenSSH 8.1 or later)",
    );
    line(&mut t, "");
    match info.principals.as_slice() {
        [one] => line(
            &mut t,
            &format!(
                "     for f in custody/[0-9]*.json; do ssh-keygen -Y verify -f custody/allowed_signers -I {} -n {} -s \"$f.sig\" < \"$f\" || echo \"BAD: $f\"; done",
                ascii(one),
                crate::SIG_NAMESPACE
            ),
        ),
        _ => {
            line(
                &mut t,
                "   Several examiners held the case; ssh-keygen finds who signed each entry",
            );
            line(&mut t, "   (one of the principals below) and checks it:");
            line(&mut t, "");
            line(
                &mut t,
                &format!(
                    "     for f in custody/[0-9]*.json; do p=$(ssh-keygen -Y find-principals -f custody/allowed_signers -s \"$f.sig\") && ssh-keygen -Y verify -f custody/allowed_signers -I \"$p\" -n {} -s \"$f.sig\" < \"$f\" || echo \"BAD: $f\"; done",
                    crate::SIG_NAMESPACE
                ),
            );
            line(&mut t, "");
            for p in &info.principals {
                line(&mut t, &format!("   - {}", ascii(p)));
            }
        }
    }
    line(&mut t, "");
    if !info.entries.is_empty() {
        line(
            &mut t,
            &format!(
                "   The log has {} entries: custody/{}.json to custody/{}.json.",
                info.entries.len(),
                info.entries.first().map(|s| ascii(s)).unwrap_or_default(),
                info.entries.last().map(|s| ascii(s)).unwrap_or_default()
            ),
        );
        line(&mut t, "");
    }
    line(&mut t, "4. Check the hash chain of the custody log");
    line(&mut t, "");
    line(
        &mut t,
        "   Each entry's \"prev\" is the SHA-256 of the entry before it (64 zeros for",
    );
    line(&mut t, "   the first):");
    line(&mut t, "");
    line(
        &mut t,
        "     prev=0000000000000000000000000000000000000000000000000000000000000000",
    );
    line(&mut t, "     for f in custody/[0-9]*.json; do");
    line(
        &mut t,
        "       grep -q \"\\\"prev\\\": *\\\"$prev\\\"\" \"$f\" || echo \"BROKEN CHAIN: $f\"",
    );
    line(&mut t, "       prev=$(sha256sum < \"$f\" | cut -d' ' -f1)");
    line(&mut t, "     done");
    line(&mut t, "");
    line(&mut t, "5. Check the timestamps (RFC 3161)");
    line(&mut t, "");
    if info.stamps.is_empty() {
        line(&mut t, "   This package has no timestamps.");
    } else {
        for s in &info.stamps {
            let s = ascii(s);
            line(
                &mut t,
                &format!(
                    "     openssl ts -verify -data timestamps/{s}.tagmanifest-sha256.txt -in timestamps/{s}.tsr -CAfile timestamps/tsa-ca.pem"
                ),
            );
        }
        line(&mut t, "");
        line(
            &mut t,
            "   Each timestamped copy of the tag manifest names the custody entries and",
        );
        line(
            &mut t,
            "   manifests as they were then; compare it with tagmanifest-sha256.txt.",
        );
    }
    line(&mut t, "");
    line(&mut t, "6. Check the examiner's key");
    line(&mut t, "");
    line(
        &mut t,
        "   The signatures prove only that the holder of the key in",
    );
    line(
        &mut t,
        "   custody/allowed_signers wrote the log. Compare that key's fingerprint",
    );
    line(
        &mut t,
        "   with the one the examiner gave you out of band (in person, by phone, on",
    );
    line(&mut t, "   paper):");
    line(&mut t, "");
    line(
        &mut t,
        "     grep -o 'ssh-ed25519 [A-Za-z0-9+/=]*' custody/allowed_signers | ssh-keygen -l -f -",
    );
    line(&mut t, "");
    if !info.key_fingerprints.is_empty() {
        line(&mut t, "   This package was sealed with:");
        for k in &info.key_fingerprints {
            line(&mut t, &format!("     {}", ascii(k)));
        }
        line(&mut t, "");
        line(
            &mut t,
            "   (a fingerprint written inside the package proves nothing by itself).",
        );
    }
    t
}

/// `s` with anything but printable ASCII replaced by `?`.
fn ascii(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_itself() {
        for v in [
            "",
            "a",
            "x".repeat(5).as_str(),
            "y".repeat(94).as_str(),
            "z".repeat(995).as_str(),
        ] {
            let r = pax_record("path", v.as_bytes());
            let text = String::from_utf8(r.clone()).unwrap();
            let (len, _) = text.split_once(' ').unwrap();
            assert_eq!(len.parse::<usize>().unwrap(), r.len(), "{text:?}");
        }
    }

    #[test]
    fn unknown_recipients_refused() {
        for r in [
            "bob@example.org",
            "ssh-dss AAAA",
            "age1notakey",
            "ssh-ed25519 AAAAnot",
        ] {
            let e = parse_recipients(&[r.to_string()])
                .err()
                .map(|e| e.to_string());
            assert!(e.is_some_and(|e| e.contains("recipient")), "{r}");
        }
    }

    #[test]
    fn verify_txt_is_ascii_and_complete() {
        let t = verify_txt(&VerifyInfo {
            case_id: "CASE-1 é".into(),
            bag_name: "case-1".into(),
            principals: vec!["alice@example.org".into()],
            entries: vec!["000001".into(), "000002".into()],
            stamps: vec!["000002".into()],
            encrypted: true,
            key_fingerprints: vec!["SHA256:abc".into()],
        });
        assert!(t.is_ascii());
        for s in [
            "age -d -i YOUR_KEY PACKAGE | tar -x",
            "bagit.py --validate case-1",
            "cd case-1 && hashdeep -a -k hashdeep.txt -l -r data",
            "ssh-keygen -Y verify -f custody/allowed_signers -I alice@example.org -n takedown-custody@takedown -s \"$f.sig\" < \"$f\"",
            "openssl ts -verify -data timestamps/000002.tagmanifest-sha256.txt -in timestamps/000002.tsr -CAfile timestamps/tsa-ca.pem",
            "sha256sum",
            "SHA256:abc",
            "out of band",
        ] {
            assert!(t.contains(s), "missing {s:?} in:\n{t}");
        }
    }
}
