//! Opening the hunt's inputs: files (plain or compressed, recognised by
//! their magic bytes, not their names), standard input, and growing logs
//! followed across rotation.
//!
//! Decompression streams: a 20 GB `dns.log.gz` is read in constant
//! memory. The decoders' own memory is bounded (the xz dictionary and the
//! zstd window), so that a hostile header cannot make a reader allocate
//! gigabytes.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How an input is compressed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Compression {
    /// Not compressed.
    None,
    /// gzip (RFC 1952), several members read as one stream.
    Gzip,
    /// bzip2, several streams read as one.
    Bzip2,
    /// xz.
    Xz,
    /// Zstandard, several frames read as one.
    Zstd,
}

impl Compression {
    /// The name in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Compression::None => "none",
            Compression::Gzip => "gzip",
            Compression::Bzip2 => "bzip2",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
        }
    }
}

/// The compression of a stream that begins with `head`, by its magic
/// bytes.
pub fn sniff_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(b"BZh") && head.get(3).is_some_and(|b| (b'1'..=b'9').contains(b)) {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Compression::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Largest xz dictionary accepted, in KiB: `xz -9` uses 64 MiB; more is
/// a custom setting no log rotation uses, or a hostile header.
const XZ_DICT_LIMIT_KIB: u32 = 256 << 10;

/// Largest zstd window (log2): 2^27 = 128 MiB covers `zstd --long`'s
/// default; a frame asking for more is refused, not obeyed.
const ZSTD_WINDOW_LOG_MAX: u32 = 27;

/// An input opened for reading.
pub struct Opened {
    /// Its name in reports (the path as given, `-` for standard input).
    pub name: String,
    /// The decompressed bytes.
    pub reader: Box<dyn Read + Send>,
    /// How it was compressed.
    pub compression: Compression,
    /// The year for time stamps without one: the year of the file's
    /// modification time, else the current year.
    pub year: i32,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Opened")
            .field("name", &self.name)
            .field("compression", &self.compression)
            .field("year", &self.year)
            .finish()
    }
}

/// An input that cannot be opened or decoded.
#[derive(Debug, thiserror::Error)]
#[error("{name}: {reason}")]
pub struct InputError {
    /// The input.
    pub name: String,
    /// Why.
    pub reason: String,
}

fn current_year() -> i32 {
    time::OffsetDateTime::now_utc().year()
}

fn year_of(meta: &std::fs::Metadata) -> i32 {
    meta.modified()
        .ok()
        .map(|t| time::OffsetDateTime::from(t).year())
        .unwrap_or_else(current_year)
}

/// Opens `path`, decompressing by content.
pub fn open(path: &Path) -> Result<Opened, InputError> {
    let name = path.display().to_string();
    let fail = |reason: String| InputError {
        name: name.clone(),
        reason,
    };
    let file = File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot read its metadata: {e}")))?;
    if meta.is_dir() {
        return Err(fail("a directory, not a log or capture".into()));
    }
    let year = year_of(&meta);
    wrap(name.clone(), Box::new(file), year)
}

/// Standard input, decompressing by content.
pub fn open_stdin() -> Result<Opened, InputError> {
    wrap("-".into(), Box::new(io::stdin()), current_year())
}

/// Sniffs the compression of `raw` and wraps it in the decoder.
pub fn wrap(name: String, raw: Box<dyn Read + Send>, year: i32) -> Result<Opened, InputError> {
    let mut r = BufReader::with_capacity(1 << 16, raw);
    let head = r.fill_buf().map_err(|e| InputError {
        name: name.clone(),
        reason: format!("cannot read: {e}"),
    })?;
    let compression = sniff_compression(head);
    let reader = decompress(Box::new(r), compression).map_err(|reason| InputError {
        name: name.clone(),
        reason,
    })?;
    Ok(Opened {
        name,
        reader,
        compression,
        year,
    })
}

/// `r` decoded from `c`.
pub fn decompress(r: Box<dyn Read + Send>, c: Compression) -> Result<Box<dyn Read + Send>, String> {
    Ok(match c {
        Compression::None => r,
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::new(r))),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(BufReader::new(r))),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
            r,
            true,
            XZ_DICT_LIMIT_KIB,
        )),
        Compression::Zstd => {
            let mut d = zstd::stream::read::Decoder::new(r)
                .map_err(|e| format!("zstd: cannot start decoding: {e}"))?;
            d.window_log_max(ZSTD_WINDOW_LOG_MAX)
                .map_err(|e| format!("zstd: cannot set the window: {e}"))?;
            Box::new(d)
        }
    })
}

/// How [`follow`] waits.
#[derive(Clone, Debug)]
pub struct FollowOptions {
    /// How long to sleep at the end of the file before looking again.
    pub poll: Duration,
    /// Set to end the reading: the reader returns what is left, then the
    /// end of the stream.
    pub stop: Arc<AtomicBool>,
}

/// A growing log at `path`, read as it grows, across rotation (see
/// [`Follow`]). Plain files only: a compressed file does not grow.
pub fn follow(path: &Path, opts: FollowOptions) -> Result<Opened, InputError> {
    let name = path.display().to_string();
    let fail = |reason: String| InputError {
        name: name.clone(),
        reason,
    };
    let mut file = File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| fail(format!("cannot read its metadata: {e}")))?;
    if !meta.is_file() {
        return Err(fail("--follow reads regular files only".into()));
    }
    let mut head = [0u8; 8];
    let n = read_up_to(&mut file, &mut head).map_err(|e| fail(format!("cannot read: {e}")))?;
    if sniff_compression(&head[..n]) != Compression::None {
        return Err(fail(
            "compressed: a compressed log does not grow; read it without --follow".into(),
        ));
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| fail(format!("cannot seek: {e}")))?;
    Ok(Opened {
        name,
        year: year_of(&meta),
        compression: Compression::None,
        reader: Box::new(Follow {
            path: path.to_path_buf(),
            id: FileId::of_file(&file),
            file,
            pos: 0,
            opts,
        }),
    })
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// What tells two files apart at one path: the system's file identity
/// (device and inode on Unix, volume serial and file index on Windows),
/// through `same-file`, so that rotation by rename is seen everywhere
/// (a creation time is not enough: NTFS keeps it for a file re-created
/// under the same name within seconds, which is what rotation does).
struct FileId(same_file::Handle);

impl FileId {
    fn of_path(p: &Path) -> Option<FileId> {
        same_file::Handle::from_path(p).ok().map(FileId)
    }

    fn of_file(f: &File) -> Option<FileId> {
        f.try_clone()
            .ok()
            .and_then(|f| same_file::Handle::from_file(f).ok())
            .map(FileId)
    }
}

impl PartialEq for FileId {
    fn eq(&self, o: &FileId) -> bool {
        self.0 == o.0
    }
}

/// A reader of a growing file: at the end it waits for more instead of
/// ending, until [`FollowOptions::stop`] is set.
///
/// Rotation: when the path names another file (logrotate's rename and
/// create, or a new file after a delete), what is left of the old one is
/// read to its end first, then the new one from its start. When the file
/// becomes shorter than what was read (logrotate's `copytruncate`), it is
/// read again from its start. Lines written between the copy and the
/// truncation are the only ones that can be missed; that is
/// copytruncate's own race, and why its manual recommends against it.
pub struct Follow {
    path: PathBuf,
    id: Option<FileId>,
    file: File,
    pos: u64,
    opts: FollowOptions,
}

impl Read for Follow {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            let n = self.file.read(buf)?;
            if n > 0 {
                self.pos += n as u64;
                return Ok(n);
            }
            if buf.is_empty() {
                return Ok(0);
            }
            // At the end of the file as it is now.
            let now = FileId::of_path(&self.path);
            if now.is_some() && now != self.id {
                // Rotated: the old file was read to its end just now (a
                // writer that had not yet reopened may still have
                // appended: the loop above read that). Switch.
                if let Ok(f) = File::open(&self.path) {
                    self.id = FileId::of_file(&f);
                    self.file = f;
                    self.pos = 0;
                    continue;
                }
            } else if self.file.metadata().is_ok_and(|m| m.len() < self.pos) {
                // Truncated in place (copytruncate), judged on the open
                // file itself.
                self.file.seek(SeekFrom::Start(0))?;
                self.pos = 0;
                continue;
            }
            // Unchanged, or gone for the moment (between rename and
            // create): wait.
            if self.opts.stop.load(Ordering::Relaxed) {
                return Ok(0);
            }
            std::thread::sleep(self.opts.poll);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(o: Opened) -> Vec<u8> {
        let mut v = Vec::new();
        let mut r = o.reader;
        r.read_to_end(&mut v).unwrap();
        v
    }

    #[test]
    fn compressed_inputs_are_read_by_content() {
        let dir = tempfile::tempdir().unwrap();
        let text = b"line one\nline two\n".repeat(1000);
        // gzip, two members.
        let mut gz = Vec::new();
        for half in [&text[..9000], &text[9000..]] {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(half).unwrap();
            gz.extend(e.finish().unwrap());
        }
        // bzip2, two streams.
        let mut bz = Vec::new();
        for half in [&text[..5000], &text[5000..]] {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
            e.write_all(half).unwrap();
            bz.extend(e.finish().unwrap());
        }
        let zst = zstd::stream::encode_all(&text[..], 3).unwrap();
        let cases: Vec<(&str, Vec<u8>, Compression)> = vec![
            ("plain.log", text.clone(), Compression::None),
            ("a.log.gz", gz, Compression::Gzip),
            // The name does not decide: a gzip stream named .log.
            ("bz.log", bz, Compression::Bzip2),
            ("z.zst", zst, Compression::Zstd),
        ];
        for (name, bytes, c) in cases {
            let p = dir.path().join(name);
            std::fs::write(&p, &bytes).unwrap();
            let o = open(&p).unwrap();
            assert_eq!(o.compression, c, "{name}");
            assert_eq!(read_all(o), text, "{name}");
        }
    }

    #[test]
    fn xz_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.log.xz");
        let ok = std::process::Command::new("xz")
            .arg("-z")
            .arg("-c")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn();
        let Ok(mut child) = ok else {
            eprintln!("skipped: no xz");
            return;
        };
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"hello\nworld\n")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        std::fs::write(&p, out.stdout).unwrap();
        let o = open(&p).unwrap();
        assert_eq!(o.compression, Compression::Xz);
        assert_eq!(read_all(o), b"hello\nworld\n");
    }

    #[test]
    fn a_corrupt_stream_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bad.gz");
        let mut bytes = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3];
        bytes.extend_from_slice(&[0xff; 64]);
        std::fs::write(&p, bytes).unwrap();
        let o = open(&p).unwrap();
        let mut r = o.reader;
        let mut v = Vec::new();
        assert!(r.read_to_end(&mut v).is_err());
        assert!(open(dir.path()).is_err());
        assert!(open(&dir.path().join("missing")).is_err());
    }

    #[test]
    fn follow_reads_across_rename_and_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.log");
        std::fs::write(&p, b"a\n").unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let o = follow(
            &p,
            FollowOptions {
                poll: Duration::from_millis(5),
                stop: stop.clone(),
            },
        )
        .unwrap();
        let reader = std::thread::spawn(move || read_all(o));
        let append = |s: &[u8]| {
            let mut f = std::fs::OpenOptions::new().append(true).open(&p).unwrap();
            f.write_all(s).unwrap();
        };
        std::thread::sleep(Duration::from_millis(50));
        append(b"b\n");
        std::thread::sleep(Duration::from_millis(50));
        // Rotation by rename and create.
        std::fs::rename(&p, dir.path().join("q.log.1")).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        std::fs::write(&p, b"c\n").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        append(b"d\n");
        std::thread::sleep(Duration::from_millis(50));
        // copytruncate.
        std::fs::write(&p, b"").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        append(b"e\n");
        std::thread::sleep(Duration::from_millis(50));
        stop.store(true, Ordering::Relaxed);
        let got = reader.join().unwrap();
        assert_eq!(String::from_utf8(got).unwrap(), "a\nb\nc\nd\ne\n");
    }

    #[test]
    fn follow_refuses_compressed_files() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("q.log");
        std::fs::write(&p, [0x28, 0xb5, 0x2f, 0xfd, 0, 0]).unwrap();
        let e = follow(
            &p,
            FollowOptions {
                poll: Duration::from_millis(5),
                stop: Arc::new(AtomicBool::new(true)),
            },
        )
        .unwrap_err();
        assert!(e.to_string().contains("compressed"), "{e}");
    }
}
