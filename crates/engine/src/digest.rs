//! Computing only the digests that loaded signatures can use.
//!
//! MD5, SHA-1 and SHA-256 over the same bytes cost roughly 1x, 1x and 0.5x
//! (with SHA-NI) of a read each; computing one that no IOC uses is waste,
//! so the set of [`Algorithms`] is decided per file from the hash index.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use std::io::Read;

/// Which digests to compute.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Algorithms {
    /// MD5.
    pub md5: bool,
    /// SHA-1.
    pub sha1: bool,
    /// SHA-256.
    pub sha256: bool,
}

impl Algorithms {
    /// No digest.
    pub const NONE: Algorithms = Algorithms {
        md5: false,
        sha1: false,
        sha256: false,
    };
    /// All three.
    pub const ALL: Algorithms = Algorithms {
        md5: true,
        sha1: true,
        sha256: true,
    };
    /// SHA-256 only (reported for every detection).
    pub const SHA256: Algorithms = Algorithms {
        md5: false,
        sha1: false,
        sha256: true,
    };

    /// True when nothing is to be computed.
    pub fn is_empty(self) -> bool {
        self == Self::NONE
    }

    /// Both sets together.
    pub fn union(self, other: Algorithms) -> Algorithms {
        Algorithms {
            md5: self.md5 || other.md5,
            sha1: self.sha1 || other.sha1,
            sha256: self.sha256 || other.sha256,
        }
    }

    /// Those of `self` not already in `have`.
    pub fn missing_from(self, have: &Digests) -> Algorithms {
        Algorithms {
            md5: self.md5 && have.md5.is_none(),
            sha1: self.sha1 && have.sha1.is_none(),
            sha256: self.sha256 && have.sha256.is_none(),
        }
    }
}

/// Computed digests; `None` where not asked for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Digests {
    /// MD5.
    pub md5: Option<[u8; 16]>,
    /// SHA-1.
    pub sha1: Option<[u8; 20]>,
    /// SHA-256.
    pub sha256: Option<[u8; 32]>,
}

/// Incremental computation of the selected digests in one pass.
pub struct Hasher {
    md5: Option<Md5>,
    sha1: Option<Sha1>,
    sha256: Option<Sha256>,
}

impl Hasher {
    /// A hasher for the selected algorithms.
    pub fn new(algs: Algorithms) -> Hasher {
        Hasher {
            md5: algs.md5.then(Md5::new),
            sha1: algs.sha1.then(Sha1::new),
            sha256: algs.sha256.then(Sha256::new),
        }
    }

    /// Feeds bytes to every selected digest. Chunks of 64 KiB keep the
    /// data in L2 while each algorithm passes over it.
    pub fn update(&mut self, data: &[u8]) {
        for chunk in data.chunks(64 * 1024) {
            if let Some(h) = &mut self.md5 {
                h.update(chunk);
            }
            if let Some(h) = &mut self.sha1 {
                h.update(chunk);
            }
            if let Some(h) = &mut self.sha256 {
                h.update(chunk);
            }
        }
    }

    /// The digests, merged into `into` (existing values are kept).
    pub fn finish_into(self, into: &mut Digests) {
        if let Some(h) = self.md5 {
            into.md5 = Some(h.finalize().into());
        }
        if let Some(h) = self.sha1 {
            into.sha1 = Some(h.finalize().into());
        }
        if let Some(h) = self.sha256 {
            into.sha256 = Some(h.finalize().into());
        }
    }
}

impl Digests {
    /// Digests of an in-memory buffer.
    pub fn of(data: &[u8], algs: Algorithms) -> Digests {
        let mut d = Digests::default();
        d.add(data, algs);
        d
    }

    /// Computes the algorithms of `algs` not yet present.
    pub fn add(&mut self, data: &[u8], algs: Algorithms) {
        let missing = algs.missing_from(self);
        if missing.is_empty() {
            return;
        }
        let mut h = Hasher::new(missing);
        h.update(data);
        h.finish_into(self);
    }

    /// Digests of a reader, streamed in 256 KiB blocks; returns the number
    /// of bytes read, at most `limit`.
    pub fn add_from_reader<R: Read>(
        &mut self,
        reader: &mut R,
        algs: Algorithms,
        limit: u64,
    ) -> std::io::Result<u64> {
        let mut h = Hasher::new(algs.missing_from(self));
        let mut buf = vec![0u8; 256 * 1024];
        let mut total = 0u64;
        let mut take = reader.take(limit);
        loop {
            let n = match take.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            h.update(&buf[..n]);
            total += n as u64;
        }
        h.finish_into(self);
        Ok(total)
    }

    /// SHA-256 as lowercase hex, when computed.
    pub fn sha256_hex(&self) -> Option<String> {
        self.sha256.map(hex::encode)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_vectors() {
        let d = Digests::of(b"abc", Algorithms::ALL);
        assert_eq!(
            hex::encode(d.md5.unwrap()),
            "900150983cd24fb0d6963f7d28e17f72"
        );
        assert_eq!(
            hex::encode(d.sha1.unwrap()),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            d.sha256_hex().unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn only_requested_digests_are_computed() {
        let d = Digests::of(
            b"abc",
            Algorithms {
                md5: true,
                ..Algorithms::NONE
            },
        );
        assert!(d.md5.is_some() && d.sha1.is_none() && d.sha256.is_none());
    }

    #[test]
    fn reader_and_buffer_agree_across_chunk_boundaries() {
        let data: Vec<u8> = (0..700_000u32).map(|i| (i * 31 % 251) as u8).collect();
        let mut streamed = Digests::default();
        let n = streamed
            .add_from_reader(&mut &data[..], Algorithms::ALL, u64::MAX)
            .unwrap();
        assert_eq!(n, data.len() as u64);
        assert_eq!(streamed, Digests::of(&data, Algorithms::ALL));
    }
}
