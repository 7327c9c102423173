//! `.cvd` / `.cld` / `.cud` signature containers.
//!
//! A 512-byte text header `ClamAV-VDB:time:version:sigs:flevel:md5:dsig:
//! builder:stime` (space padded), then a tar archive, gzip'ed in `.cvd`
//! and `.cud` and usually plain in `.cld`.
//!
//! Integrity, as ClamAV does it:
//! * `.cvd`: the MD5 of everything after the header must equal the header's
//!   `md5`, and `dsig` must be ClamAV's RSA signature of that MD5 under the
//!   ClamAV public key ([`CLAMAV_KEY_N`], [`CLAMAV_KEY_E`]). Either failing
//!   rejects the file.
//! * `.cld` (a `.cvd` updated in place by incremental diffs) and `.cud`
//!   (unsigned): ClamAV checks neither, since the header's MD5 and
//!   signature describe the original `.cvd`. We check the MD5 anyway and
//!   report whether it matched; a mismatch is reported, not fatal.
//! * In every case, when the archive carries a `.info` file listing
//!   `name:size:sha256` for its members, each listed member must match.
//!   The `.info` file's own signature (`DSIG:` line, a different RSA-PSS
//!   scheme) is not checked.
//!
//! Unpacking is bounded: total bytes, member count and member size are
//! capped, only plain files with names free of `/` are accepted.

use md5::{Digest, Md5};
use num_bigint::BigUint;
use sha2::Sha256;
use std::io::Read;

/// ClamAV's public RSA modulus for `.cvd` signatures (decimal), as shipped in
/// libclamav (`dsig.c`, `CLI_NSTR`); 1024 bits.
pub const CLAMAV_KEY_N: &str = "118640995551645342603070001658453189751527774412027743746599405743243142607464144767361060640655844749760788890022283424922762488917565551002467771109669598189410434699034532232228621591089508178591428456220796841621637175567590476666928698770143328137383952820383197532047771780196576957695822641224262693037";
/// ClamAV's public RSA exponent (`CLI_ESTR`).
pub const CLAMAV_KEY_E: u32 = 100_001_027;

/// Header size.
pub const HEADER_LEN: usize = 512;
/// Most bytes unpacked from one container (all members together). The
/// largest official database (`main.cvd`) unpacks to a few hundred MB.
pub const MAX_UNPACKED: u64 = 1 << 30;
/// Most members in one container.
pub const MAX_MEMBERS: usize = 1024;
/// Longest signature string accepted (a 1024-bit value is 171 digits).
const MAX_DSIG: usize = 400;

/// What kind of container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavour {
    /// Signed official database.
    Cvd,
    /// Locally updated official database.
    Cld,
    /// Unsigned database.
    Cud,
}

/// The parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Build time, as written.
    pub time: String,
    /// Database version.
    pub version: u32,
    /// Number of signatures announced.
    pub sigs: u32,
    /// Functionality level required.
    pub flevel: u32,
    /// MD5 of the payload, hex.
    pub md5: String,
    /// Digital signature, ClamAV's base-64 digits.
    pub dsig: String,
    /// Builder name.
    pub builder: String,
    /// Build time, seconds since the epoch (0 when absent).
    pub stime: u64,
}

/// Result of the MD5 / signature checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Integrity {
    /// MD5 matches and the RSA signature verifies with ClamAV's key (`.cvd`).
    Signed,
    /// MD5 matches; no signature checked (`.cld`, `.cud`).
    Md5Only,
    /// The header's MD5 does not describe the payload (`.cld` after
    /// incremental updates); not fatal, as in ClamAV.
    Unchecked,
}

/// An unpacked container.
#[derive(Debug, Clone)]
pub struct Container {
    /// The header.
    pub header: Header,
    /// What was verified.
    pub integrity: Integrity,
    /// Members in archive order: (name, bytes).
    pub members: Vec<(String, Vec<u8>)>,
}

/// Why a container was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CvdError {
    /// Shorter than a header, or no `ClamAV-VDB:` magic.
    #[error("not a ClamAV database container (no ClamAV-VDB header)")]
    NotCvd,
    /// A header field is missing or invalid.
    #[error("bad header: {0}")]
    BadHeader(String),
    /// The payload MD5 differs from the header's.
    #[error("MD5 of the payload is {actual}, header says {expected}")]
    Md5Mismatch {
        /// From the header.
        expected: String,
        /// Computed.
        actual: String,
    },
    /// The RSA signature does not verify with ClamAV's key.
    #[error("digital signature does not verify with the ClamAV key")]
    BadSignature,
    /// The archive is broken or breaks a rule.
    #[error("archive: {0}")]
    Archive(String),
    /// A member disagrees with the `.info` listing.
    #[error("member {0} does not match its .info entry")]
    InfoMismatch(String),
}

/// Parses the 512-byte header.
pub fn parse_header(data: &[u8]) -> Result<Header, CvdError> {
    let head = data.get(..HEADER_LEN).ok_or(CvdError::NotCvd)?;
    if !head.starts_with(b"ClamAV-VDB:") {
        return Err(CvdError::NotCvd);
    }
    let text = std::str::from_utf8(head).map_err(|_| CvdError::BadHeader("not text".into()))?;
    let text = text
        .split(['\n', '\r', '\0'])
        .next()
        .unwrap_or("")
        .trim_end_matches(' ');
    let f: Vec<&str> = text.split(':').collect();
    if f.len() < 8 {
        return Err(CvdError::BadHeader(format!(
            "{} fields, expected at least 8",
            f.len()
        )));
    }
    let num = |i: usize, what: &str| -> Result<u32, CvdError> {
        f[i].parse()
            .map_err(|_| CvdError::BadHeader(format!("bad {what} '{}'", f[i])))
    };
    let stime = match f.get(8) {
        Some(s) if !s.is_empty() => s
            .parse()
            .map_err(|_| CvdError::BadHeader(format!("bad build time '{s}'")))?,
        _ => 0,
    };
    Ok(Header {
        time: f[1].to_string(),
        version: num(2, "version")?,
        sigs: num(3, "signature count")?,
        flevel: num(4, "functionality level")?,
        md5: f[5].to_string(),
        dsig: f[6].to_string(),
        builder: f[7].to_string(),
        stime,
    })
}

fn digit(c: u8) -> Option<u32> {
    Some(match c {
        b'a'..=b'z' => u32::from(c - b'a'),
        b'A'..=b'Z' => u32::from(c - b'A') + 26,
        b'0'..=b'9' => u32::from(c - b'0') + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    })
}

/// Verifies ClamAV's `.cvd` signature: `dsig` is an integer written in
/// base 64, least significant digit first (alphabet `a-zA-Z0-9+/`);
/// `dsig^e mod n` must equal the MD5 (as a 128-bit big-endian integer).
pub fn verify_dsig(md5_hex: &str, dsig: &str) -> bool {
    let mut md5 = [0u8; 16];
    if hex::decode_to_slice(md5_hex, &mut md5).is_err() || dsig.is_empty() || dsig.len() > MAX_DSIG
    {
        return false;
    }
    let mut c = BigUint::default();
    for (i, ch) in dsig.bytes().enumerate() {
        let Some(d) = digit(ch) else { return false };
        c += BigUint::from(d) << (6 * i);
    }
    let Ok(n) = CLAMAV_KEY_N.parse::<BigUint>() else {
        return false;
    };
    if c >= n {
        return false;
    }
    c.modpow(&BigUint::from(CLAMAV_KEY_E), &n) == BigUint::from_bytes_be(&md5)
}

/// Parses, verifies and unpacks a container.
pub fn unpack(data: &[u8], flavour: Flavour) -> Result<Container, CvdError> {
    let header = parse_header(data)?;
    let payload = &data[HEADER_LEN..];
    let actual = hex::encode(Md5::digest(payload));
    let md5_ok = actual.eq_ignore_ascii_case(&header.md5);
    let integrity = match flavour {
        Flavour::Cvd => {
            if !md5_ok {
                return Err(CvdError::Md5Mismatch {
                    expected: header.md5.clone(),
                    actual,
                });
            }
            if !verify_dsig(&actual, &header.dsig) {
                return Err(CvdError::BadSignature);
            }
            Integrity::Signed
        }
        Flavour::Cld | Flavour::Cud if md5_ok => Integrity::Md5Only,
        Flavour::Cld | Flavour::Cud => Integrity::Unchecked,
    };
    let members = untar(payload)?;
    check_info(&members)?;
    Ok(Container {
        header,
        integrity,
        members,
    })
}

fn untar(payload: &[u8]) -> Result<Vec<(String, Vec<u8>)>, CvdError> {
    let arch = |e: std::io::Error| CvdError::Archive(e.to_string());
    let reader: Box<dyn Read + '_> = if payload.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::MultiGzDecoder::new(payload))
    } else {
        Box::new(payload)
    };
    // The cap is enforced below the tar reader, so no header size can make
    // it read (or allocate) more than MAX_UNPACKED in total.
    let mut archive = tar::Archive::new(reader.take(MAX_UNPACKED));
    let mut out = Vec::new();
    let mut total = 0u64;
    for entry in archive.entries().map_err(arch)? {
        let mut entry = entry.map_err(arch)?;
        if out.len() >= MAX_MEMBERS {
            return Err(CvdError::Archive(format!(
                "more than {MAX_MEMBERS} members"
            )));
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        if name.contains('/') || name.is_empty() {
            return Err(CvdError::Archive(format!(
                "member name '{name}' not allowed"
            )));
        }
        if !entry.header().entry_type().is_file() {
            return Err(CvdError::Archive(format!(
                "member '{name}' is not a plain file"
            )));
        }
        let size = entry.header().size().map_err(arch)?;
        total = total.saturating_add(size);
        if total > MAX_UNPACKED {
            return Err(CvdError::Archive(format!(
                "unpacks to more than {MAX_UNPACKED} bytes"
            )));
        }
        let mut buf = Vec::with_capacity(usize::try_from(size.min(1 << 20)).unwrap_or(0));
        entry.read_to_end(&mut buf).map_err(arch)?;
        if buf.len() as u64 != size {
            return Err(CvdError::Archive(format!("member '{name}' is truncated")));
        }
        out.push((name, buf));
    }
    Ok(out)
}

/// Checks every member listed in a `.info` member (`name:size:sha256`).
fn check_info(members: &[(String, Vec<u8>)]) -> Result<(), CvdError> {
    let Some((_, info)) = members.iter().find(|(n, _)| n.ends_with(".info")) else {
        return Ok(());
    };
    let info = String::from_utf8_lossy(info);
    for line in info.lines() {
        if line.starts_with("ClamAV-VDB:") || line.starts_with("DSIG:") || line.is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split(':').collect();
        if f.len() != 3 {
            continue;
        }
        let Some((_, data)) = members.iter().find(|(n, _)| n == f[0]) else {
            continue;
        };
        let size_ok = f[1].parse::<u64>().ok() == Some(data.len() as u64);
        let hash_ok = hex::encode(Sha256::digest(data)).eq_ignore_ascii_case(f[2]);
        if !size_ok || !hash_ok {
            return Err(CvdError::InfoMismatch(f[0].to_string()));
        }
    }
    Ok(())
}

/// Builds a container (header + gzip'ed tar) for tests and tools; the
/// `dsig` field is written as given.
pub fn build(members: &[(&str, &[u8])], version: u32, dsig: &str, gzip: bool) -> Vec<u8> {
    let mut tar = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_old();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_entry_type(tar::EntryType::Regular);
        let _ = h.set_path(name);
        h.set_cksum();
        let _ = tar.append(&h, *data);
    }
    let tar = tar.into_inner().unwrap_or_default();
    let payload = if gzip {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        let _ = gz.write_all(&tar);
        gz.finish().unwrap_or_default()
    } else {
        tar
    };
    let md5 = hex::encode(Md5::digest(&payload));
    let mut head = format!(
        "ClamAV-VDB:01 Jan 2024 00-00 +0000:{version}:{}:90:{md5}:{dsig}:takedown:1704067200",
        members.len()
    )
    .into_bytes();
    head.resize(HEADER_LEN, b' ');
    head.extend(payload);
    head
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A real header of ClamAV's daily.cvd (version 23182, March 2017), as
    /// published: its signature must verify against ClamAV's key.
    const REAL_MD5: &str = "c1537143239006af01e814a4dcd58a48";
    const REAL_DSIG: &str = "QC2ZncCPK0AzfYPW8OKvde9GFOO1HyH5qbozl9JZbmlOmZnSV55zWaP9yH9tXiS+JmZWA1277X6pBeTHPCcaqUDakke4W58duZ5mavDGJoWekl3q/5RgVeAg39cM1X4zNf6gER8G+HIWDUka0sRQWal1KXAb1UWkFoKsbHVqgVi";

    #[test]
    fn real_signature_verifies() {
        assert!(verify_dsig(REAL_MD5, REAL_DSIG));
        assert!(!verify_dsig("c1537143239006af01e814a4dcd58a49", REAL_DSIG));
        let mut tampered = REAL_DSIG.to_string();
        tampered.replace_range(0..1, "R");
        assert!(!verify_dsig(REAL_MD5, &tampered));
        assert!(!verify_dsig(REAL_MD5, ""));
        assert!(!verify_dsig(REAL_MD5, "!!"));
        assert!(!verify_dsig(REAL_MD5, &"z".repeat(1000)));
    }

    #[test]
    fn info_listing_is_checked() {
        let ndb: &[u8] = b"X:0:*:41424344\n";
        let good = format!(
            "ClamAV-VDB:t:1:1:90:x:x:b:0\na.ndb:{}:{}\nDSIG:ignored\n",
            ndb.len(),
            hex::encode(Sha256::digest(ndb))
        );
        let c = build(&[("t.info", good.as_bytes()), ("a.ndb", ndb)], 1, "X", true);
        assert!(unpack(&c, Flavour::Cud).is_ok());
        let bad = good.replace(&hex::encode(Sha256::digest(ndb))[..4], "0000");
        let c = build(&[("t.info", bad.as_bytes()), ("a.ndb", ndb)], 1, "X", true);
        assert_eq!(
            unpack(&c, Flavour::Cud).unwrap_err(),
            CvdError::InfoMismatch("a.ndb".into())
        );
    }

    #[test]
    fn cud_roundtrip_and_rejections() {
        let c = build(&[("a.ndb", b"X:0:*:41424344\n")], 7, "X", true);
        let u = unpack(&c, Flavour::Cud).unwrap();
        assert_eq!(u.integrity, Integrity::Md5Only);
        assert_eq!(u.header.version, 7);
        assert_eq!(u.members[0].0, "a.ndb");
        // Same bytes as a .cvd: MD5 fine, signature "X" is not ClamAV's.
        assert_eq!(
            unpack(&c, Flavour::Cvd).unwrap_err(),
            CvdError::BadSignature
        );
        let mut flipped = c.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(matches!(
            unpack(&flipped, Flavour::Cvd),
            Err(CvdError::Md5Mismatch { .. })
        ));
        assert_eq!(unpack(b"nope", Flavour::Cvd).unwrap_err(), CvdError::NotCvd);
        // Truncations never panic.
        for n in (0..c.len()).step_by(7) {
            let _ = unpack(&c[..n], Flavour::Cld);
        }
    }
}
