//! A bag's contents as `verify` needs them, read from a case directory or
//! streamed from a sealed archive: every tag file's bytes, and every
//! payload file's digests. All checks (BagIt, custody, timestamps) work on
//! this one view, so a directory and a package are verified alike.

use crate::{Digests, Problem};
use std::collections::BTreeMap;

/// What is in a bag.
#[derive(Clone, Debug, Default)]
pub struct BagContents {
    /// Tag files (everything outside `data/`), by bag path (`/`-separated),
    /// with their bytes.
    pub tags: BTreeMap<String, Vec<u8>>,
    /// Payload files (under `data/`), by bag path, with their digests.
    pub payload: BTreeMap<String, Digests>,
    /// What could not be read while gathering this (an unreadable file, an
    /// unsafe name or a link in an archive, a tag file over the limit).
    pub problems: Vec<Problem>,
}

/// The three digests of one stream, computed in one pass: acquisition
/// hashes while it copies, `verify` while it reads, with this one core so
/// both agree byte for byte.
#[derive(Clone, Default)]
pub struct Hasher {
    md5: md5::Md5,
    sha1: sha1::Sha1,
    sha256: sha2::Sha256,
    size: u64,
}

impl Hasher {
    /// A hasher that has seen nothing.
    pub fn new() -> Hasher {
        Hasher::default()
    }

    /// Feeds the next bytes of the stream.
    pub fn update(&mut self, buf: &[u8]) {
        use md5::Digest as _;
        self.md5.update(buf);
        self.sha1.update(buf);
        self.sha256.update(buf);
        self.size = self.size.saturating_add(buf.len() as u64);
    }

    /// The digests of everything fed so far.
    pub fn finish(self) -> Digests {
        use md5::Digest as _;
        Digests {
            size: self.size,
            md5: hex::encode(self.md5.finalize()),
            sha1: hex::encode(self.sha1.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
        }
    }
}

/// Bytes read at a time while hashing: large enough that system calls
/// cost nothing next to the hashing, small enough to stay in cache.
pub const HASH_BUF: usize = 256 * 1024;

/// The digests of everything `r` yields, in one pass.
pub fn hash_reader(mut r: impl std::io::Read) -> std::io::Result<Digests> {
    let mut h = Hasher::new();
    let mut buf = vec![0u8; HASH_BUF];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(buf.get(..n).unwrap_or_default());
    }
    Ok(h.finish())
}
