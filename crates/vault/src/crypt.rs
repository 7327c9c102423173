//! Defanging: vault content is stored encrypted with the vault's key.
//!
//! The point is not secrecy (the key sits in the vault) but that a
//! quarantined sample can neither be run nor be found again by another
//! scanner, and that damage is detected on restore. The format:
//!
//! ```text
//! "TDVAULT1" | nonce (19 bytes) | chunk* | last chunk
//! ```
//!
//! XChaCha20-Poly1305 in the STREAM construction (big-endian 32-bit
//! counter + last-chunk flag): every chunk holds 64 KiB of plaintext plus a
//! 16-byte tag; the last holds 0..=64 KiB. The item ID is the associated
//! data of every chunk, so a data file moved to another item does not
//! decrypt. Truncation, reordering or a flipped bit fail authentication.

use chacha20poly1305::XChaCha20Poly1305;
use chacha20poly1305::aead::stream::{DecryptorBE32, EncryptorBE32};
use chacha20poly1305::aead::{KeyInit, Payload};
use sha2::{Digest, Sha256};
use std::io::{self, Read, Write};

const MAGIC: &[u8; 8] = b"TDVAULT1";
const NONCE: usize = 19;
const CHUNK: usize = 64 * 1024;
const TAG: usize = 16;

/// A vault key.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl Key {
    /// A new random key.
    pub fn generate() -> io::Result<Key> {
        let mut k = [0u8; 32];
        getrandom::fill(&mut k).map_err(|e| io::Error::other(format!("no random numbers: {e}")))?;
        Ok(Key(k))
    }

    /// The raw bytes (for the key file).
    pub fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A key from the key file's bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Key> {
        Some(Key(b.try_into().ok()?))
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(..)")
    }
}

/// How many bytes [`encrypt`] writes for `plain` bytes of plaintext: the
/// head, the plaintext and one tag per chunk (an empty input still has one,
/// last, chunk).
pub fn stored_len(plain: u64) -> u64 {
    let chunks = plain.div_ceil(CHUNK as u64).max(1);
    (MAGIC.len() + NONCE) as u64 + plain + chunks * TAG as u64
}

/// Reads until `buf` is full or the end; returns the count.
fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
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

/// Chunk buffers, reused from one item to the next (two 64 KiB buffers
/// allocated and zeroed per small file would cost more than the file).
#[derive(Default)]
pub struct Scratch {
    cur: Vec<u8>,
    next: Vec<u8>,
}

/// Encrypts everything `src` yields into `dst`, feeding the plaintext to
/// `hash` on the way; returns the plaintext length.
pub fn encrypt(
    key: &Key,
    id: &str,
    src: &mut dyn Read,
    dst: &mut dyn Write,
    hash: &mut Sha256,
) -> io::Result<u64> {
    encrypt_with(&mut Scratch::default(), key, id, src, dst, hash)
}

/// [`encrypt`] with buffers kept in `scratch`.
pub fn encrypt_with(
    scratch: &mut Scratch,
    key: &Key,
    id: &str,
    src: &mut dyn Read,
    dst: &mut dyn Write,
    hash: &mut Sha256,
) -> io::Result<u64> {
    let mut nonce = [0u8; NONCE];
    getrandom::fill(&mut nonce).map_err(|e| io::Error::other(format!("no random numbers: {e}")))?;
    dst.write_all(MAGIC)?;
    dst.write_all(&nonce)?;
    let aead = XChaCha20Poly1305::new(key.0.as_ref().into());
    let mut enc = EncryptorBE32::from_aead(aead, nonce.as_ref().into());
    scratch.cur.resize(CHUNK, 0);
    scratch.next.resize(CHUNK, 0);
    let (mut cur, mut next) = (&mut scratch.cur, &mut scratch.next);
    let mut cur_len = read_full(src, cur)?;
    let mut total = 0u64;
    let fail = |_| io::Error::other("encryption failed");
    loop {
        hash.update(&cur[..cur_len]);
        total += cur_len as u64;
        // A chunk is the last when nothing follows it; a short chunk is
        // always the last.
        let next_len = if cur_len == CHUNK {
            read_full(src, next)?
        } else {
            0
        };
        let payload = Payload {
            msg: &cur[..cur_len],
            aad: id.as_bytes(),
        };
        if next_len == 0 {
            dst.write_all(&enc.encrypt_last(payload).map_err(fail)?)?;
            return Ok(total);
        }
        dst.write_all(&enc.encrypt_next(payload).map_err(fail)?)?;
        std::mem::swap(&mut cur, &mut next);
        cur_len = next_len;
    }
}

/// Why decryption failed.
#[derive(Debug, thiserror::Error)]
pub enum DecryptError {
    /// Reading or writing failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The data is not what was stored (damaged, truncated, another item's,
    /// or another vault's key).
    #[error("the stored data is damaged or does not belong to this item and vault")]
    Damaged,
}

/// Decrypts `src` into `dst`, feeding the plaintext to `hash`; returns the
/// plaintext length. Nothing unauthenticated is written: each chunk is
/// checked before it is handed on.
pub fn decrypt(
    key: &Key,
    id: &str,
    src: &mut dyn Read,
    dst: &mut dyn Write,
    hash: &mut Sha256,
) -> Result<u64, DecryptError> {
    let mut head = [0u8; MAGIC.len() + NONCE];
    if read_full(src, &mut head)? != head.len() || &head[..MAGIC.len()] != MAGIC {
        return Err(DecryptError::Damaged);
    }
    let aead = XChaCha20Poly1305::new(key.0.as_ref().into());
    let nonce: &[u8] = &head[MAGIC.len()..];
    let mut dec = DecryptorBE32::from_aead(aead, nonce.into());
    let mut cur = vec![0u8; CHUNK + TAG];
    let mut next = vec![0u8; CHUNK + TAG];
    let mut cur_len = read_full(src, &mut cur)?;
    let mut total = 0u64;
    loop {
        if cur_len < TAG {
            return Err(DecryptError::Damaged);
        }
        let next_len = if cur_len == CHUNK + TAG {
            read_full(src, &mut next)?
        } else {
            0
        };
        let payload = Payload {
            msg: &cur[..cur_len],
            aad: id.as_bytes(),
        };
        if next_len == 0 {
            let plain = dec
                .decrypt_last(payload)
                .map_err(|_| DecryptError::Damaged)?;
            hash.update(&plain);
            dst.write_all(&plain)?;
            return Ok(total + plain.len() as u64);
        }
        let plain = dec
            .decrypt_next(payload)
            .map_err(|_| DecryptError::Damaged)?;
        hash.update(&plain);
        dst.write_all(&plain)?;
        total += plain.len() as u64;
        std::mem::swap(&mut cur, &mut next);
        cur_len = next_len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(len: usize) {
        let key = Key::generate().unwrap();
        let data: Vec<u8> = (0..len).map(|i| (i * 7 + i / 255) as u8).collect();
        let mut h1 = Sha256::new();
        let mut stored = Vec::new();
        assert_eq!(
            encrypt(&key, "id1", &mut &data[..], &mut stored, &mut h1).unwrap(),
            len as u64
        );
        assert_eq!(
            stored.len() as u64,
            stored_len(len as u64),
            "length of {len}"
        );
        if len > 16 {
            // Defanged: the plaintext does not appear in what is stored.
            assert!(!stored.windows(16).any(|w| w == &data[..16]));
        }
        let mut h2 = Sha256::new();
        let mut back = Vec::new();
        assert_eq!(
            decrypt(&key, "id1", &mut &stored[..], &mut back, &mut h2).unwrap(),
            len as u64
        );
        assert_eq!(back, data);
        assert_eq!(h1.finalize(), h2.finalize());
    }

    #[test]
    fn round_trips_at_chunk_boundaries() {
        for len in [
            0,
            1,
            100,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK,
            3 * CHUNK + 17,
        ] {
            roundtrip(len);
        }
    }

    #[test]
    fn damage_is_detected() {
        let key = Key::generate().unwrap();
        let data = vec![0x41u8; 2 * CHUNK + 5];
        let mut stored = Vec::new();
        encrypt(&key, "id", &mut &data[..], &mut stored, &mut Sha256::new()).unwrap();
        let dec = |s: &[u8], id: &str, k: &Key| {
            decrypt(k, id, &mut &s[..], &mut Vec::new(), &mut Sha256::new())
        };
        assert!(dec(&stored, "id", &key).is_ok());
        // Wrong item, wrong key.
        assert!(matches!(
            dec(&stored, "other", &key),
            Err(DecryptError::Damaged)
        ));
        assert!(matches!(
            dec(&stored, "id", &Key::generate().unwrap()),
            Err(DecryptError::Damaged)
        ));
        // Every truncation point, including whole chunks dropped.
        for cut in [0, 5, 27, 27 + CHUNK + TAG, stored.len() - 1] {
            assert!(
                matches!(dec(&stored[..cut], "id", &key), Err(DecryptError::Damaged)),
                "cut {cut}"
            );
        }
        // A flipped bit anywhere.
        for pos in [3, 10, 40, CHUNK + 100, stored.len() - 3] {
            let mut bad = stored.clone();
            bad[pos] ^= 1;
            assert!(dec(&bad, "id", &key).is_err(), "flip at {pos}");
        }
    }
}
