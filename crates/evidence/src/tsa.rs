//! RFC 3161 trusted timestamps: asked of a time-stamping authority (TSA)
//! over HTTP, and checked without it.
//!
//! A case's tag manifest is stamped after every custody entry, so a third
//! party vouches that the evidence existed, as it is, at that time. The
//! stored token is the TSA's whole `TimeStampResp`, exactly what `openssl ts
//! -reply` writes and `openssl ts -verify -in` reads, so police check it with
//! OpenSSL; [`check`] is the same check in takedown: the message imprint,
//! the CMS signature of the TSA, its certificate's time-stamping purpose and
//! its chain up to the case's CA file, each at the time of the stamp.
//!
//! Both the TSA's answer and a token in a case are hostile input: sizes,
//! nesting and chain length are bounded before anything is decoded, and
//! every failure is an error that says which part is wrong. SHA-1 is
//! refused in imprints and signatures: a collision would let one stamp
//! cover two documents.

use std::time::Duration;

use cms::cert::CertificateChoices;
use cms::content_info::{CmsVersion, ContentInfo};
use cms::signed_data::{EncapsulatedContentInfo, SignerIdentifier, SignerInfo, SignerInfos};
use const_oid::ObjectIdentifier;
use der::asn1::{BitString, Int, OctetString};
use der::{Any, Decode, Encode, Reader, Sequence, SliceReader, Tag, Tagged};
use sha2::Digest;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::Certificate;
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectKeyIdentifier};
use x509_cert::time::Time as X509Time;

use crate::Error;

/// Largest TSA answer or stored token read. Real ones are a few KiB (a
/// token with a three-certificate chain stays under 10 KiB); the bound
/// stops a hostile TSA or a planted file from making us buffer and parse
/// without end.
pub const MAX_TOKEN_BYTES: usize = 1 << 20;

/// Largest CA file read. A system bundle (`ca-certificates.crt`) is about
/// 200 KiB; the bound stops a planted file from exhausting memory.
pub const MAX_CA_FILE_BYTES: usize = 8 << 20;

/// Most certificates taken from a CA file (a system bundle has ~150).
const MAX_CA_CERTS: usize = 4096;

/// Longest certificate chain followed from the TSA's certificate to the CA
/// file: stops loops and pathological chains in a hostile token.
pub const MAX_CHAIN: usize = 8;

/// Deepest DER nesting accepted: stops stack exhaustion in the decoders.
const MAX_DER_DEPTH: usize = 32;

/// Most elements in one constructed DER value. The DER decoder sorts each
/// SET OF with an insertion sort, so a hostile SET of a hundred thousand
/// tiny elements would cost billions of comparisons; real tokens have a
/// handful of elements per value.
const MAX_DER_CHILDREN: usize = 256;

/// Longest text taken from the TSA (status strings) or a certificate name
/// into an error message.
const MAX_TEXT: usize = 200;

// Object identifiers (const-evaluated: a typo fails the build, not a run).
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_SIGNING_CERTIFICATE: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.12");
const ID_SIGNING_CERTIFICATE_V2: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.2.47");
const ID_SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ID_RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const ID_MGF1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.8");
const ID_RSASSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const ID_SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const ID_SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const ID_SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ID_ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ID_ECDSA_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ID_ECDSA_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const ID_P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const ID_P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const ID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const ID_CE_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_CE_SUBJECT_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.14");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");

/// What a checked timestamp says.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Stamp {
    /// When the TSA saw the data (its `genTime`), RFC 3339 in UTC, with
    /// the fraction of a second the TSA gave.
    pub time: String,
    /// The token's serial number, hex.
    pub serial: String,
    /// The TSA's policy, as an OID.
    pub policy: String,
    /// Who stamped: the TSA's name from the token, else its certificate's
    /// subject (escaped for display).
    pub tsa: Option<String>,
    /// The digest the TSA stamped (equal to the data's), hex.
    pub hash: String,
}

// ---------------------------------------------------------------------
// ASN.1 of RFC 3161 (the parts takedown reads and writes).

/// `MessageImprint ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier,
/// hashedMessage OCTET STRING }`
#[derive(Clone, Debug, Sequence)]
struct MessageImprint {
    hash_algorithm: AlgorithmIdentifierOwned,
    hashed_message: OctetString,
}

/// `TimeStampReq`, with the fields takedown sends (no reqPolicy, no
/// extensions: both OPTIONAL, so leaving them out of the structure encodes
/// them as absent).
#[derive(Clone, Debug, Sequence)]
struct TimeStampReq {
    version: u8,
    message_imprint: MessageImprint,
    nonce: u64,
    cert_req: bool,
}

/// `PKIStatusInfo ::= SEQUENCE { status PKIStatus, statusString
/// PKIFreeText OPTIONAL, failInfo PKIFailureInfo OPTIONAL }`
#[derive(Clone, Debug, Sequence)]
struct PkiStatusInfo {
    status: i64,
    status_string: Option<Vec<String>>,
    fail_info: Option<BitString>,
}

/// `TimeStampResp ::= SEQUENCE { status PKIStatusInfo, timeStampToken
/// TimeStampToken OPTIONAL }`
#[derive(Clone, Debug, Sequence)]
struct TimeStampResp {
    status: PkiStatusInfo,
    time_stamp_token: Option<ContentInfo>,
}

/// `Accuracy ::= SEQUENCE { seconds INTEGER OPTIONAL, millis [0] INTEGER
/// OPTIONAL, micros [1] INTEGER OPTIONAL }` (read only to be skipped).
#[derive(Clone, Debug, Sequence)]
struct Accuracy {
    seconds: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT", optional = "true")]
    millis: Option<Int>,
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", optional = "true")]
    micros: Option<Int>,
}

/// `TSTInfo`: what the TSA signs.
#[derive(Clone, Debug, Sequence)]
struct TstInfo {
    version: i64,
    policy: ObjectIdentifier,
    message_imprint: MessageImprint,
    serial_number: Int,
    /// A GeneralizedTime; read as raw because the DER decoder refuses the
    /// fraction of a second that RFC 3161 allows (and TSAs send).
    gen_time: Any,
    accuracy: Option<Accuracy>,
    #[asn1(default = "Default::default")]
    ordering: bool,
    nonce: Option<Int>,
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    tsa: Option<GeneralName>,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    extensions: Option<Vec<x509_cert::ext::Extension>>,
}

/// `SignedData` (RFC 5652 §5.1), read as leniently as OpenSSL where TSAs
/// differ: the certificates as a plain list, because tokens may carry the
/// TSA's certificate twice (once for certReq, once in the configured
/// chain), which a strict SET OF decoder refuses; the digest algorithms
/// and CRLs are not used.
#[derive(Clone, Debug, Sequence)]
struct SignedData {
    version: CmsVersion,
    digest_algorithms: Any,
    encap_content_info: EncapsulatedContentInfo,
    #[asn1(
        context_specific = "0",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    certificates: Option<Vec<CertificateChoices>>,
    #[asn1(
        context_specific = "1",
        tag_mode = "IMPLICIT",
        constructed = "true",
        optional = "true"
    )]
    crls: Option<Vec<Any>>,
    signer_infos: SignerInfos,
}

/// `RSASSA-PSS-params` (RFC 4055).
#[derive(Clone, Debug, Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", tag_mode = "EXPLICIT", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", optional = "true")]
    mask_gen: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", optional = "true")]
    salt_length: Option<u32>,
    #[asn1(context_specific = "3", tag_mode = "EXPLICIT", optional = "true")]
    trailer_field: Option<u32>,
}

/// `ESSCertID ::= SEQUENCE { certHash OCTET STRING (SHA-1), issuerSerial
/// IssuerSerial OPTIONAL }` (RFC 2634).
#[derive(Clone, Debug, Sequence)]
struct EssCertId {
    cert_hash: OctetString,
    issuer_serial: Option<Any>,
}

/// `SigningCertificate ::= SEQUENCE { certs SEQUENCE OF ESSCertID,
/// policies SEQUENCE OF PolicyInformation OPTIONAL }`
#[derive(Clone, Debug, Sequence)]
struct SigningCertificate {
    certs: Vec<EssCertId>,
    policies: Option<Any>,
}

/// `ESSCertIDv2 ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier DEFAULT
/// sha256, certHash OCTET STRING, issuerSerial IssuerSerial OPTIONAL }`
/// (RFC 5035).
#[derive(Clone, Debug, Sequence)]
struct EssCertIdV2 {
    hash_algorithm: Option<AlgorithmIdentifierOwned>,
    cert_hash: OctetString,
    issuer_serial: Option<Any>,
}

/// `SigningCertificateV2 ::= SEQUENCE { certs SEQUENCE OF ESSCertIDv2,
/// policies SEQUENCE OF PolicyInformation OPTIONAL }`
#[derive(Clone, Debug, Sequence)]
struct SigningCertificateV2 {
    certs: Vec<EssCertIdV2>,
    policies: Option<Any>,
}

// ---------------------------------------------------------------------
// Digests and signatures.

/// The digests accepted in imprints and signatures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    fn from_oid(oid: &ObjectIdentifier) -> Result<Hash, String> {
        match *oid {
            ID_SHA256 => Ok(Hash::Sha256),
            ID_SHA384 => Ok(Hash::Sha384),
            ID_SHA512 => Ok(Hash::Sha512),
            ID_SHA1 => Err("SHA-1 is not accepted (collisions are practical)".to_string()),
            other => Err(format!(
                "digest algorithm {} is not supported",
                oid_name(&other)
            )),
        }
    }

    fn digest(self, data: &[u8]) -> Vec<u8> {
        match self {
            Hash::Sha256 => sha2::Sha256::digest(data).to_vec(),
            Hash::Sha384 => sha2::Sha384::digest(data).to_vec(),
            Hash::Sha512 => sha2::Sha512::digest(data).to_vec(),
        }
    }

    fn oid(self) -> ObjectIdentifier {
        match self {
            Hash::Sha256 => ID_SHA256,
            Hash::Sha384 => ID_SHA384,
            Hash::Sha512 => ID_SHA512,
        }
    }
}

/// A signature scheme with its digest.
#[derive(Clone, Copy, Debug)]
enum Scheme {
    RsaPkcs1(Hash),
    RsaPss { hash: Hash, salt: usize },
    Ecdsa(Hash),
}

/// The scheme named by a signature algorithm. CMS signers may name only
/// the key type (`rsaEncryption`, `id-ecPublicKey`) and leave the digest to
/// the signer info's digest algorithm, given as `digest`.
fn scheme_of(alg: &AlgorithmIdentifierOwned, digest: Option<Hash>) -> Result<Scheme, String> {
    let with_digest = |make: fn(Hash) -> Scheme| {
        digest
            .map(make)
            .ok_or_else(|| format!("signature algorithm {} names no digest", oid_name(&alg.oid)))
    };
    match alg.oid {
        ID_SHA256_WITH_RSA => Ok(Scheme::RsaPkcs1(Hash::Sha256)),
        ID_SHA384_WITH_RSA => Ok(Scheme::RsaPkcs1(Hash::Sha384)),
        ID_SHA512_WITH_RSA => Ok(Scheme::RsaPkcs1(Hash::Sha512)),
        ID_RSA_ENCRYPTION => with_digest(Scheme::RsaPkcs1),
        ID_ECDSA_SHA256 => Ok(Scheme::Ecdsa(Hash::Sha256)),
        ID_ECDSA_SHA384 => Ok(Scheme::Ecdsa(Hash::Sha384)),
        ID_ECDSA_SHA512 => Ok(Scheme::Ecdsa(Hash::Sha512)),
        ID_EC_PUBLIC_KEY => with_digest(Scheme::Ecdsa),
        ID_RSASSA_PSS => pss_scheme(alg),
        other => Err(format!(
            "signature algorithm {} is not supported",
            oid_name(&other)
        )),
    }
}

/// RSASSA-PSS with its parameters; only MGF1 with the same digest as the
/// message (what every signer uses), and SHA-1 refused as elsewhere.
fn pss_scheme(alg: &AlgorithmIdentifierOwned) -> Result<Scheme, String> {
    let params: PssParams = alg
        .parameters
        .as_ref()
        .ok_or("RSASSA-PSS without parameters (that would mean SHA-1)")?
        .decode_as()
        .map_err(|e| format!("malformed RSASSA-PSS parameters: {e}"))?;
    let hash = match &params.hash {
        Some(h) => Hash::from_oid(&h.oid)?,
        None => return Err("RSASSA-PSS with the default digest SHA-1 is not accepted".into()),
    };
    let mgf = params
        .mask_gen
        .as_ref()
        .ok_or("RSASSA-PSS with the default mask generation (MGF1 with SHA-1)")?;
    let mgf_hash: Option<AlgorithmIdentifierOwned> =
        mgf.parameters.as_ref().and_then(|p| p.decode_as().ok());
    if mgf.oid != ID_MGF1 || mgf_hash.map(|h| h.oid) != Some(hash.oid()) {
        return Err("RSASSA-PSS with a mask generation other than MGF1 over the same digest is not supported".into());
    }
    if params.trailer_field.unwrap_or(1) != 1 {
        return Err("RSASSA-PSS with a trailer field other than 1".into());
    }
    let salt = params.salt_length.unwrap_or(20);
    Ok(Scheme::RsaPss {
        hash,
        salt: usize::try_from(salt).map_err(|_| "RSASSA-PSS salt length too large")?,
    })
}

/// Whether `signature` over `message` verifies with `key` under `scheme`:
/// `Ok(false)` when it does not, `Err` when the key or scheme cannot be
/// used at all (so callers can tell a forgery from an unsupported TSA).
fn verify_signature(
    key: &SubjectPublicKeyInfoOwned,
    scheme: Scheme,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, String> {
    let key_bytes = key
        .subject_public_key
        .as_bytes()
        .ok_or("the public key is not a whole number of bytes")?;
    match scheme {
        Scheme::RsaPkcs1(hash) | Scheme::RsaPss { hash, .. } => {
            use rsa::pkcs1::DecodeRsaPublicKey;
            if key.algorithm.oid != ID_RSA_ENCRYPTION && key.algorithm.oid != ID_RSASSA_PSS {
                return Err(format!(
                    "an RSA signature, but the key is {}",
                    oid_name(&key.algorithm.oid)
                ));
            }
            let public = rsa::RsaPublicKey::from_pkcs1_der(key_bytes)
                .map_err(|e| format!("unusable RSA key: {e}"))?;
            let hashed = hash.digest(message);
            let ok = match (scheme, hash) {
                (Scheme::RsaPss { salt, .. }, Hash::Sha256) => public.verify(
                    rsa::Pss::new_with_salt::<sha2::Sha256>(salt),
                    &hashed,
                    signature,
                ),
                (Scheme::RsaPss { salt, .. }, Hash::Sha384) => public.verify(
                    rsa::Pss::new_with_salt::<sha2::Sha384>(salt),
                    &hashed,
                    signature,
                ),
                (Scheme::RsaPss { salt, .. }, Hash::Sha512) => public.verify(
                    rsa::Pss::new_with_salt::<sha2::Sha512>(salt),
                    &hashed,
                    signature,
                ),
                (_, Hash::Sha256) => {
                    public.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha256>(), &hashed, signature)
                }
                (_, Hash::Sha384) => {
                    public.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha384>(), &hashed, signature)
                }
                (_, Hash::Sha512) => {
                    public.verify(rsa::Pkcs1v15Sign::new::<sha2::Sha512>(), &hashed, signature)
                }
            };
            Ok(ok.is_ok())
        }
        Scheme::Ecdsa(hash) => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier;
            if key.algorithm.oid != ID_EC_PUBLIC_KEY {
                return Err(format!(
                    "an ECDSA signature, but the key is {}",
                    oid_name(&key.algorithm.oid)
                ));
            }
            let curve: ObjectIdentifier = key
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as().ok())
                .ok_or("an EC key without a named curve")?;
            let hashed = hash.digest(message);
            match curve {
                ID_P256 => {
                    let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                        .map_err(|_| "unusable P-256 key".to_string())?;
                    let Ok(sig) = p256::ecdsa::Signature::from_der(signature) else {
                        return Ok(false);
                    };
                    Ok(vk.verify_prehash(&hashed, &sig).is_ok())
                }
                ID_P384 => {
                    let vk = p384::ecdsa::VerifyingKey::from_sec1_bytes(key_bytes)
                        .map_err(|_| "unusable P-384 key".to_string())?;
                    let Ok(sig) = p384::ecdsa::Signature::from_der(signature) else {
                        return Ok(false);
                    };
                    Ok(vk.verify_prehash(&hashed, &sig).is_ok())
                }
                other => Err(format!("EC curve {} is not supported", oid_name(&other))),
            }
        }
    }
}

// ---------------------------------------------------------------------
// Bounded decoding.

/// Checks the shape of DER before a decoder sees it: definite lengths
/// within the input, nesting at most [`MAX_DER_DEPTH`], at most
/// [`MAX_DER_CHILDREN`] elements in each constructed value, nothing after
/// the outer value.
fn check_shape(der: &[u8]) -> Result<(), String> {
    let end = shape_of(der, 0, 0)?;
    if end != der.len() {
        return Err(format!(
            "{} bytes after the end of the DER",
            der.len() - end
        ));
    }
    Ok(())
}

/// Walks one TLV at `pos`; returns the position after it.
fn shape_of(der: &[u8], pos: usize, depth: usize) -> Result<usize, String> {
    if depth > MAX_DER_DEPTH {
        return Err(format!("DER nested deeper than {MAX_DER_DEPTH}"));
    }
    let truncated = || "truncated DER".to_string();
    let first = *der.get(pos).ok_or_else(truncated)?;
    let mut at = pos + 1;
    if first & 0x1f == 0x1f {
        // High tag number: base-128 digits; more than four is nonsense.
        let mut digits = 0;
        loop {
            let b = *der.get(at).ok_or_else(truncated)?;
            at += 1;
            digits += 1;
            if digits > 4 {
                return Err("DER tag number too large".into());
            }
            if b & 0x80 == 0 {
                break;
            }
        }
    }
    let l = *der.get(at).ok_or_else(truncated)?;
    at += 1;
    let len = if l < 0x80 {
        usize::from(l)
    } else if l == 0x80 {
        return Err("indefinite length (BER, not DER)".into());
    } else {
        let n = usize::from(l & 0x7f);
        if n > 4 {
            return Err("DER length too large".into());
        }
        let mut len = 0usize;
        for _ in 0..n {
            let b = *der.get(at).ok_or_else(truncated)?;
            at += 1;
            len = (len << 8) | usize::from(b);
        }
        len
    };
    let end = at.checked_add(len).ok_or_else(truncated)?;
    if end > der.len() {
        return Err(truncated());
    }
    if first & 0x20 != 0 {
        let mut children = 0;
        while at < end {
            children += 1;
            if children > MAX_DER_CHILDREN {
                return Err(format!(
                    "a DER value with more than {MAX_DER_CHILDREN} elements"
                ));
            }
            at = shape_of(&der[..end], at, depth + 1)?;
        }
    }
    Ok(end)
}

/// Decodes `T` from exactly `der`, after the shape check.
fn decode<'a, T: Decode<'a>>(der: &'a [u8], what: &str) -> Result<T, String> {
    check_shape(der).map_err(|e| format!("malformed {what}: {e}"))?;
    T::from_der(der).map_err(|e| format!("malformed {what}: {e}"))
}

/// A token taken apart.
struct Token {
    /// The PKI status, when the input was a whole response.
    status: Option<PkiStatusInfo>,
    /// The SignedData, when there is a token.
    signed: Option<Signed>,
}

/// The signed part of a token.
struct Signed {
    data: SignedData,
    /// The DER of the TSTInfo, exactly as signed.
    tst_der: Vec<u8>,
    tst: TstInfo,
}

/// Parses a `TimeStampResp`, or a bare `TimeStampToken` (a ContentInfo).
fn parse(bytes: &[u8]) -> Result<Token, String> {
    if bytes.len() > MAX_TOKEN_BYTES {
        return Err(format!(
            "{} bytes, more than the {MAX_TOKEN_BYTES} a timestamp may have",
            bytes.len()
        ));
    }
    if bytes.is_empty() {
        return Err("empty".into());
    }
    check_shape(bytes).map_err(|e| format!("not a timestamp (malformed DER: {e})"))?;
    // A ContentInfo starts with its content type (an OID); a response
    // with its status (a SEQUENCE).
    let bare = {
        let mut r = SliceReader::new(bytes).map_err(|e| format!("malformed DER: {e}"))?;
        let outer = der::Header::decode(&mut r).map_err(|e| format!("malformed DER: {e}"))?;
        if outer.tag != Tag::Sequence {
            return Err(format!(
                "not a timestamp: a DER {} where a SEQUENCE should be",
                outer.tag
            ));
        }
        r.peek_tag().ok() == Some(Tag::ObjectIdentifier)
    };
    let (status, info) = if bare {
        (
            Some(None),
            decode::<ContentInfo>(bytes, "timestamp token").map(Some)?,
        )
    } else {
        let resp: TimeStampResp = decode(bytes, "timestamp response")?;
        (Some(Some(resp.status)), resp.time_stamp_token)
    };
    let status = status.flatten();
    let Some(info) = info else {
        return Ok(Token {
            status,
            signed: None,
        });
    };
    if info.content_type != ID_SIGNED_DATA {
        return Err(format!(
            "the token is not CMS SignedData (content type {})",
            oid_name(&info.content_type)
        ));
    }
    let data: SignedData = info
        .content
        .decode_as()
        .map_err(|e| format!("malformed SignedData in the token: {e}"))?;
    let encap = &data.encap_content_info;
    if encap.econtent_type != ID_CT_TST_INFO {
        return Err(format!(
            "the token signs {}, not a TSTInfo",
            oid_name(&encap.econtent_type)
        ));
    }
    let content = encap
        .econtent
        .as_ref()
        .ok_or("the token has no TSTInfo (detached content)")?;
    if content.tag() != Tag::OctetString {
        return Err(format!(
            "the token's content is a DER {}, not an OCTET STRING",
            content.tag()
        ));
    }
    let tst_der = content.value().to_vec();
    let tst: TstInfo = decode(&tst_der, "TSTInfo")?;
    if tst.version != 1 {
        return Err(format!("TSTInfo version {} (only 1 exists)", tst.version));
    }
    Ok(Token {
        status,
        signed: Some(Signed { data, tst_der, tst }),
    })
}

/// Refuses a status other than granted, with what the TSA said.
fn check_status(status: &PkiStatusInfo) -> Result<(), String> {
    if status.status == 0 || status.status == 1 {
        return Ok(());
    }
    let name = match status.status {
        2 => "rejection",
        3 => "waiting",
        4 => "revocation warning",
        5 => "revocation notification",
        _ => "unknown",
    };
    let mut msg = format!("the TSA refused: status {} ({name})", status.status);
    if let Some(texts) = &status.status_string {
        let text: Vec<String> = texts.iter().map(|t| clean(t)).collect();
        if !text.is_empty() {
            msg.push_str(&format!(", \"{}\"", clean(&text.join("; "))));
        }
    }
    if let Some(bits) = &status.fail_info {
        let names: Vec<&str> = bits
            .bits()
            .enumerate()
            .filter(|(_, set)| *set)
            .map(|(i, _)| match i {
                0 => "badAlg",
                2 => "badRequest",
                5 => "badDataFormat",
                14 => "timeNotAvailable",
                15 => "unacceptedPolicy",
                16 => "unacceptedExtension",
                17 => "addInfoNotAvailable",
                25 => "systemFailure",
                _ => "unknown",
            })
            .take(8)
            .collect();
        if !names.is_empty() {
            msg.push_str(&format!(", failInfo {}", names.join(" ")));
        }
    }
    Err(msg)
}

/// The certificates embedded in a token (other formats skipped).
fn embedded_certificates(data: &SignedData) -> Vec<Certificate> {
    data.certificates
        .as_ref()
        .map(|list| {
            list.iter()
                .filter_map(|c| match c {
                    CertificateChoices::Certificate(c) => Some(c.clone()),
                    CertificateChoices::Other(_) => None,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The certificates of a PEM file (blocks other than CERTIFICATE skipped).
fn pem_certificates(pem: &[u8]) -> Result<Vec<Certificate>, String> {
    use base64::Engine as _;
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    if pem.len() > MAX_CA_FILE_BYTES {
        return Err(format!(
            "the CA file has {} bytes, more than {MAX_CA_FILE_BYTES}",
            pem.len()
        ));
    }
    let text = String::from_utf8_lossy(pem);
    let mut rest: &str = &text;
    let mut certs = Vec::new();
    while let Some(start) = rest.find(BEGIN) {
        let after = &rest[start + BEGIN.len()..];
        let stop = after.find(END).ok_or_else(|| {
            format!(
                "certificate {} of the CA file has no END line",
                certs.len() + 1
            )
        })?;
        let b64: String = after[..stop]
            .lines()
            .filter(|l| !l.contains(':'))
            .flat_map(|l| l.chars())
            .filter(|c| !c.is_whitespace())
            .collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| {
                format!(
                    "certificate {} of the CA file: bad base64: {e}",
                    certs.len() + 1
                )
            })?;
        let n = certs.len() + 1;
        let cert: Certificate = decode(&der, "certificate")
            .map_err(|e| format!("certificate {n} of the CA file: {e}"))?;
        certs.push(cert);
        if certs.len() > MAX_CA_CERTS {
            return Err(format!(
                "the CA file has more than {MAX_CA_CERTS} certificates"
            ));
        }
        rest = &after[stop + END.len()..];
    }
    if certs.is_empty() {
        return Err("the CA file holds no certificate".into());
    }
    Ok(certs)
}

// ---------------------------------------------------------------------
// Time.

/// A parsed GeneralizedTime: for display as given, and as seconds (with
/// nanoseconds) for comparisons.
#[derive(Debug)]
struct GenTime {
    rfc3339: String,
    unix: i64,
    nanos: u32,
}

/// Parses `YYYYMMDDHHMMSS[.f+]Z` (RFC 3161 §2.4.2: UTC, fraction without
/// trailing zeros allowed).
fn parse_gen_time(any: &Any) -> Result<GenTime, String> {
    if any.tag() != Tag::GeneralizedTime {
        return Err(format!(
            "genTime is a DER {}, not a GeneralizedTime",
            any.tag()
        ));
    }
    let bad = || {
        format!(
            "genTime \"{}\" is not a UTC GeneralizedTime",
            clean(&String::from_utf8_lossy(any.value()))
        )
    };
    let s = std::str::from_utf8(any.value()).map_err(|_| bad())?;
    let body = s.strip_suffix('Z').ok_or_else(bad)?;
    let (whole, frac) = match body.split_once('.') {
        Some((w, f)) => (w, Some(f)),
        None => (body, None),
    };
    if whole.len() != 14 || !whole.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, String> {
        whole.get(r).and_then(|d| d.parse().ok()).ok_or_else(bad)
    };
    let (year, month, day) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hour, minute, second) = (num(8..10)?, num(10..12)?, num(12..14)?);
    let mut nanos = 0u32;
    if let Some(f) = frac {
        if f.is_empty() || f.len() > 9 || !f.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        let padded = format!("{f:0<9}");
        nanos = padded.parse().map_err(|_| bad())?;
    }
    let month =
        time::Month::try_from(u8::try_from(month).map_err(|_| bad())?).map_err(|_| bad())?;
    let date = time::Date::from_calendar_date(
        i32::try_from(year).map_err(|_| bad())?,
        month,
        u8::try_from(day).map_err(|_| bad())?,
    )
    .map_err(|_| bad())?;
    let tod = time::Time::from_hms_nano(
        u8::try_from(hour).map_err(|_| bad())?,
        u8::try_from(minute).map_err(|_| bad())?,
        u8::try_from(second).map_err(|_| bad())?,
        nanos,
    )
    .map_err(|_| bad())?;
    let at = time::PrimitiveDateTime::new(date, tod).assume_utc();
    let fraction = frac.map(|f| format!(".{f}")).unwrap_or_default();
    Ok(GenTime {
        rfc3339: format!(
            "{year:04}-{:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}Z",
            u8::from(month)
        ),
        unix: at.unix_timestamp(),
        nanos,
    })
}

/// Whether `at` lies within a certificate's validity.
fn within_validity(cert: &Certificate, at: &GenTime) -> Result<(), String> {
    let secs = |t: &X509Time| i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX);
    let validity = &cert.tbs_certificate.validity;
    let not_before = secs(&validity.not_before);
    let not_after = secs(&validity.not_after);
    let after_end = at.unix > not_after || (at.unix == not_after && at.nanos > 0);
    if at.unix < not_before || after_end {
        return Err(format!(
            "the stamp's time {} is outside the validity of the certificate {} ({} to {})",
            at.rfc3339,
            subject(cert),
            validity.not_before,
            validity.not_after
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------
// Certificates.

/// A certificate's subject, escaped for display.
fn subject(cert: &Certificate) -> String {
    clean(&cert.tbs_certificate.subject.to_string())
}

/// A certificate's extension of type `T`, with its criticality; `Err` when
/// present but malformed.
fn extension<'a, T: Decode<'a>>(
    cert: &'a Certificate,
    oid: ObjectIdentifier,
) -> Result<Option<(bool, T)>, String> {
    let Some(exts) = &cert.tbs_certificate.extensions else {
        return Ok(None);
    };
    let mut found = exts.iter().filter(|e| e.extn_id == oid);
    let Some(ext) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(format!(
            "the certificate {} has extension {} twice",
            subject(cert),
            oid_name(&oid)
        ));
    }
    let value = T::from_der(ext.extn_value.as_bytes()).map_err(|e| {
        format!(
            "the certificate {} has a malformed {} extension: {e}",
            subject(cert),
            oid_name(&oid)
        )
    })?;
    Ok(Some((ext.critical, value)))
}

/// RFC 3161 §2.3: the TSA's certificate has exactly the time-stamping
/// extended key usage, marked critical; a key usage, if any, allows
/// signatures.
fn check_tsa_purpose(cert: &Certificate) -> Result<(), String> {
    match extension::<ExtendedKeyUsage>(cert, ID_CE_EXT_KEY_USAGE)? {
        None => {
            return Err(format!(
                "the TSA certificate {} has no extended key usage (RFC 3161 requires timeStamping, critical)",
                subject(cert)
            ));
        }
        Some((critical, eku)) => {
            if !eku.0.contains(&ID_KP_TIME_STAMPING) {
                return Err(format!(
                    "the TSA certificate {} is not for time stamping (no timeStamping extended key usage)",
                    subject(cert)
                ));
            }
            if eku.0.len() != 1 {
                return Err(format!(
                    "the TSA certificate {} has other extended key usages besides timeStamping (RFC 3161 allows only that one)",
                    subject(cert)
                ));
            }
            if !critical {
                return Err(format!(
                    "the TSA certificate {}'s timeStamping extended key usage is not critical (RFC 3161 requires it)",
                    subject(cert)
                ));
            }
        }
    }
    if let Some((_, ku)) = extension::<KeyUsage>(cert, ID_CE_KEY_USAGE)?
        && !ku.digital_signature()
        && !ku.non_repudiation()
    {
        return Err(format!(
            "the TSA certificate {}'s key usage does not allow signatures",
            subject(cert)
        ));
    }
    Ok(())
}

/// Whether `cert` may issue certificates: a CA by its basic constraints
/// (a version 1 certificate of the CA file, which has no extensions, is
/// taken as the anchor it was put there as), with certificate signing in
/// its key usage if it has one.
fn check_issuer(cert: &Certificate, in_ca_file: bool) -> Result<(), String> {
    let v1 = cert.tbs_certificate.extensions.is_none();
    match extension::<BasicConstraints>(cert, ID_CE_BASIC_CONSTRAINTS)? {
        Some((_, bc)) if bc.ca => {}
        None if v1 && in_ca_file => {}
        _ => {
            return Err(format!(
                "the certificate {} issued another but is not a CA (basic constraints)",
                subject(cert)
            ));
        }
    }
    if let Some((_, ku)) = extension::<KeyUsage>(cert, ID_CE_KEY_USAGE)?
        && !ku.key_cert_sign()
    {
        return Err(format!(
            "the certificate {} issued another but its key usage does not allow certificate signing",
            subject(cert)
        ));
    }
    Ok(())
}

/// Whether `issuer`'s key signed `cert`.
fn issued_by(cert: &Certificate, issuer: &Certificate) -> Result<bool, String> {
    let scheme = scheme_of(&cert.signature_algorithm, None)
        .map_err(|e| format!("the certificate {}: {e}", subject(cert)))?;
    let tbs = cert
        .tbs_certificate
        .to_der()
        .map_err(|e| format!("the certificate {}: {e}", subject(cert)))?;
    let signature = cert.signature.as_bytes().ok_or_else(|| {
        format!(
            "the certificate {} has a malformed signature",
            subject(cert)
        )
    })?;
    verify_signature(
        &issuer.tbs_certificate.subject_public_key_info,
        scheme,
        &tbs,
        signature,
    )
    .map_err(|e| format!("the certificate {}: {e}", subject(cert)))
}

/// Follows the chain from the TSA's certificate up to a self-signed
/// certificate of the CA file (as `openssl ts -verify -CAfile` does, so
/// both agree), issuers taken from the CA file first, then from the token;
/// checks each signature, each issuer's right to issue, and that the
/// stamp's time lies within each certificate's validity.
fn check_chain(
    signer: &Certificate,
    embedded: &[Certificate],
    anchors: &[Certificate],
    at: &GenTime,
) -> Result<(), String> {
    let head = || {
        format!(
            "the TSA certificate {} is not issued by a certificate of the CA file",
            subject(signer)
        )
    };
    let mut current = signer;
    let mut at_signer = true;
    for _ in 0..MAX_CHAIN {
        within_validity(current, at)?;
        let issuer_name = &current.tbs_certificate.issuer;
        let named_in_ca_file = anchors
            .iter()
            .any(|a| &a.tbs_certificate.subject == issuer_name && a != current);
        let hint = if named_in_ca_file {
            format!(
                "the CA file has a certificate named {}, but its key did not sign it",
                clean(&issuer_name.to_string())
            )
        } else {
            format!("its issuer is {}", clean(&issuer_name.to_string()))
        };
        if issuer_name == &current.tbs_certificate.subject && issued_by(current, current)? {
            if anchors.contains(current) {
                return Ok(());
            }
            return Err(if at_signer {
                format!("{}: it is self-signed", head())
            } else {
                format!(
                    "{}: its chain ends at the root {} of the token, which the CA file does not hold",
                    head(),
                    subject(current)
                )
            });
        }
        let mut next = None;
        let mut unusable = None;
        for candidate in anchors
            .iter()
            .chain(embedded.iter())
            .filter(|c| &c.tbs_certificate.subject == issuer_name && *c != current)
        {
            match issued_by(current, candidate) {
                Ok(true) => {
                    next = Some(candidate);
                    break;
                }
                Ok(false) => {}
                Err(e) => unusable = Some(e),
            }
        }
        let Some(next) = next else {
            let why = unusable.map(|e| format!("; {e}")).unwrap_or_default();
            return Err(if at_signer {
                format!("{} ({hint}){why}", head())
            } else {
                format!(
                    "{}: its chain ends at {} ({hint}){why}",
                    head(),
                    subject(current)
                )
            });
        };
        check_issuer(next, anchors.contains(next))?;
        at_signer = false;
        current = next;
    }
    Err(format!(
        "the certificate chain from the TSA certificate {} is longer than {MAX_CHAIN}",
        subject(signer)
    ))
}

/// A certificate's subject key identifier, if it has one.
fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    extension::<SubjectKeyIdentifier>(cert, ID_CE_SUBJECT_KEY_ID)
        .ok()
        .flatten()
        .map(|(_, ski)| ski.0.as_bytes().to_vec())
}

/// The certificate that `sid` names, among the token's and the CA file's.
fn find_signer<'a>(sid: &SignerIdentifier, pool: &[&'a Certificate]) -> Option<&'a Certificate> {
    pool.iter().copied().find(|c| match sid {
        SignerIdentifier::IssuerAndSerialNumber(ias) => {
            c.tbs_certificate.issuer == ias.issuer
                && c.tbs_certificate.serial_number == ias.serial_number
        }
        SignerIdentifier::SubjectKeyIdentifier(ski) => {
            subject_key_id(c).as_deref() == Some(ski.0.as_bytes())
        }
    })
}

/// The single value of the signed attribute `oid`.
fn signed_attribute<'a>(
    info: &'a SignerInfo,
    oid: ObjectIdentifier,
    what: &str,
) -> Result<&'a Any, String> {
    let attrs = info
        .signed_attrs
        .as_ref()
        .ok_or("the token has no signed attributes (RFC 3161 requires them)")?;
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let attr = found
        .next()
        .ok_or_else(|| format!("the token has no {what} attribute"))?;
    if found.next().is_some() {
        return Err(format!("the token has two {what} attributes"));
    }
    let mut values = attr.values.iter();
    match (values.next(), values.next()) {
        (Some(v), None) => Ok(v),
        _ => Err(format!(
            "the token's {what} attribute must have exactly one value"
        )),
    }
}

/// Checks the CMS signature of the token and returns the signer's
/// certificate: the content-type and message-digest attributes, the
/// signature over the signed attributes, and the ESS signing-certificate
/// attribute naming that certificate (so it cannot be swapped for another
/// with the same key).
fn check_signature<'a>(
    signed: &Signed,
    pool: &[&'a Certificate],
) -> Result<&'a Certificate, String> {
    let infos = &signed.data.signer_infos.0;
    if infos.len() != 1 {
        return Err(format!(
            "the token has {} signatures; RFC 3161 allows only the TSA's",
            infos.len()
        ));
    }
    let info = infos.iter().next().ok_or("the token has no signature")?;
    let digest =
        Hash::from_oid(&info.digest_alg.oid).map_err(|e| format!("the token's signature: {e}"))?;
    let content_type: ObjectIdentifier = signed_attribute(info, ID_CONTENT_TYPE, "content-type")?
        .decode_as()
        .map_err(|e| format!("malformed content-type attribute: {e}"))?;
    if content_type != ID_CT_TST_INFO {
        return Err(format!(
            "the content-type attribute is {}, not id-ct-TSTInfo",
            oid_name(&content_type)
        ));
    }
    let md: OctetString = signed_attribute(info, ID_MESSAGE_DIGEST, "message-digest")?
        .decode_as()
        .map_err(|e| format!("malformed message-digest attribute: {e}"))?;
    if md.as_bytes() != digest.digest(&signed.tst_der).as_slice() {
        return Err(
            "the message-digest attribute does not match the TSTInfo (the stamp was altered)"
                .into(),
        );
    }
    let signer = find_signer(&info.sid, pool).ok_or(
        "the TSA's certificate is neither in the token nor in the CA file (ask the TSA for it with certReq)",
    )?;
    let scheme = scheme_of(&info.signature_algorithm, Some(digest))
        .map_err(|e| format!("the token's signature: {e}"))?;
    // RFC 5652 §5.4: the signature covers the DER of the attributes as a
    // SET OF (re-encoded, as OpenSSL does, from the decoded set, which the
    // DER decoder has put in canonical order).
    let attrs_der = info
        .signed_attrs
        .as_ref()
        .ok_or("the token has no signed attributes")?
        .to_der()
        .map_err(|e| format!("the token's signed attributes: {e}"))?;
    let ok = verify_signature(
        &signer.tbs_certificate.subject_public_key_info,
        scheme,
        &attrs_der,
        info.signature.as_bytes(),
    )
    .map_err(|e| format!("the TSA certificate {}: {e}", subject(signer)))?;
    if !ok {
        return Err(format!(
            "signature of the TSA does not verify (with the key of {})",
            subject(signer)
        ));
    }
    check_ess(info, signer)?;
    Ok(signer)
}

/// The ESS signing-certificate attribute (v2, or v1 with SHA-1) names the
/// signer's certificate by its hash: RFC 3161 §2.4.1 requires it, and
/// OpenSSL checks it.
fn check_ess(info: &SignerInfo, signer: &Certificate) -> Result<(), String> {
    let cert_der = signer
        .to_der()
        .map_err(|e| format!("the TSA certificate: {e}"))?;
    let has = |oid| {
        info.signed_attrs
            .as_ref()
            .is_some_and(|a| a.iter().any(|x| x.oid == oid))
    };
    let mismatch = || {
        format!(
            "the signing-certificate attribute does not name the TSA certificate {}",
            subject(signer)
        )
    };
    if has(ID_SIGNING_CERTIFICATE_V2) {
        let v2: SigningCertificateV2 =
            signed_attribute(info, ID_SIGNING_CERTIFICATE_V2, "signing-certificate-v2")?
                .decode_as()
                .map_err(|e| format!("malformed signing-certificate-v2 attribute: {e}"))?;
        let first = v2.certs.first().ok_or_else(mismatch)?;
        let hash = match &first.hash_algorithm {
            Some(alg) => Hash::from_oid(&alg.oid)
                .map_err(|e| format!("the signing-certificate-v2 attribute: {e}"))?,
            None => Hash::Sha256,
        };
        if first.cert_hash.as_bytes() != hash.digest(&cert_der).as_slice() {
            return Err(mismatch());
        }
        Ok(())
    } else if has(ID_SIGNING_CERTIFICATE) {
        use sha1::Digest as _;
        let v1: SigningCertificate =
            signed_attribute(info, ID_SIGNING_CERTIFICATE, "signing-certificate")?
                .decode_as()
                .map_err(|e| format!("malformed signing-certificate attribute: {e}"))?;
        let first = v1.certs.first().ok_or_else(mismatch)?;
        if first.cert_hash.as_bytes() != sha1::Sha1::digest(&cert_der).as_slice() {
            return Err(mismatch());
        }
        Ok(())
    } else {
        Err("the token has no signing-certificate attribute (RFC 3161 requires one)".into())
    }
}

// ---------------------------------------------------------------------
// Public API.

/// Checks a stored timestamp: `tsr` (a `TimeStampResp`, or a bare
/// `TimeStampToken`) stamps `data`, is signed by a time-stamping
/// certificate, and that certificate chains up to one of `ca_pem` (PEM,
/// one or more certificates), every certificate valid at the stamp's time.
/// The error says which of these fails.
pub fn check(tsr: &[u8], data: &[u8], ca_pem: &[u8]) -> Result<Stamp, String> {
    let token = parse(tsr)?;
    if let Some(status) = &token.status {
        check_status(status)?;
    }
    let signed = token
        .signed
        .ok_or("the response holds no timestamp token")?;
    let tst = &signed.tst;
    let hash = Hash::from_oid(&tst.message_imprint.hash_algorithm.oid)
        .map_err(|e| format!("the message imprint: {e}"))?;
    if hash.digest(data).as_slice() != tst.message_imprint.hashed_message.as_bytes() {
        return Err("message imprint does not match the data".into());
    }
    let anchors = pem_certificates(ca_pem)?;
    let embedded = embedded_certificates(&signed.data);
    let pool: Vec<&Certificate> = embedded.iter().chain(anchors.iter()).collect();
    let signer = check_signature(&signed, &pool)?;
    check_tsa_purpose(signer)?;
    let at = parse_gen_time(&tst.gen_time)?;
    check_chain(signer, &embedded, &anchors, &at)?;
    let tsa = match &tst.tsa {
        Some(name) => general_name(name),
        None => subject(signer),
    };
    Ok(Stamp {
        time: at.rfc3339,
        serial: int_hex(&tst.serial_number),
        policy: tst.policy.to_string(),
        tsa: Some(tsa),
        hash: hex::encode(tst.message_imprint.hashed_message.as_bytes()),
    })
}

/// The certificates embedded in a timestamp (`TimeStampResp` or bare
/// token), as PEM: the TSA's chain, kept beside the CA file so the case
/// holds everything a verifier needs.
pub fn certificates_pem(tsr: &[u8]) -> Result<String, String> {
    let token = parse(tsr)?;
    let signed = token
        .signed
        .ok_or("the response holds no timestamp token")?;
    let mut out = String::new();
    for cert in embedded_certificates(&signed.data) {
        let der = cert
            .to_der()
            .map_err(|e| format!("certificate {}: {e}", subject(&cert)))?;
        let pem = der::pem::encode_string("CERTIFICATE", der::pem::LineEnding::LF, &der)
            .map_err(|e| format!("certificate {}: {e}", subject(&cert)))?;
        out.push_str(&pem);
    }
    Ok(out)
}

/// Asks the TSA at `url` to stamp `data` (its SHA-256, with a fresh
/// random nonce, asking for the TSA's certificate in the token), and
/// returns its whole `TimeStampResp` (DER), to be stored as a `.tsr`.
///
/// The answer is checked before it is returned: granted, stamping our
/// digest, echoing our nonce (so a replayed or misdirected answer is
/// refused), and signed by the certificate it carries. Whether that
/// certificate is trusted is [`check`]'s job, with the case's CA file.
pub fn request(url: &str, data: &[u8], timeout: Duration) -> Result<Vec<u8>, Error> {
    let shown = redact(url);
    let fail = |reason: String| Error::Tsa(format!("{shown}: {reason}"));
    let digest = sha2::Sha256::digest(data).to_vec();
    let nonce = getrandom::u64().map_err(|e| fail(format!("no random nonce: {e}")))?;
    let query = TimeStampReq {
        version: 1,
        message_imprint: MessageImprint {
            // RFC 5754 §2: SHA-2 identifiers go without parameters.
            hash_algorithm: AlgorithmIdentifierOwned {
                oid: ID_SHA256,
                parameters: None,
            },
            hashed_message: OctetString::new(digest.clone())
                .map_err(|e| fail(format!("building the request: {e}")))?,
        },
        nonce,
        cert_req: true,
    }
    .to_der()
    .map_err(|e| fail(format!("building the request: {e}")))?;

    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        // A redirect of a POST would be followed as a GET; name it instead.
        .max_redirects(0)
        .max_redirects_will_error(false)
        .user_agent(crate::tool_version())
        .build();
    let agent: ureq::Agent = config.into();
    let response = agent
        .post(url)
        .header("Content-Type", "application/timestamp-query")
        .header("Accept", "application/timestamp-reply")
        .send(&query[..])
        .map_err(|e| fail(transport_reason(e)))?;
    let status = response.status().as_u16();
    if status != 200 {
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(|l| format!(" (redirected to {})", clean(l)))
            .unwrap_or_default();
        return Err(fail(format!("HTTP status {status}{location}")));
    }
    let body = response
        .into_body()
        .into_with_config()
        .limit(MAX_TOKEN_BYTES as u64)
        .read_to_vec()
        .map_err(|e| match e {
            ureq::Error::BodyExceedsLimit(_) => fail(format!(
                "the answer is larger than {MAX_TOKEN_BYTES} bytes; refusing it"
            )),
            e => fail(transport_reason(e)),
        })?;
    check_reply(&body, &digest, nonce).map_err(fail)?;
    Ok(body)
}

/// Checks a TSA's answer to our request (see [`request`]).
fn check_reply(body: &[u8], digest: &[u8], nonce: u64) -> Result<(), String> {
    let token = parse(body).map_err(|e| format!("bad answer: {e}"))?;
    let status = token
        .status
        .as_ref()
        .ok_or("bad answer: a bare token, not a TimeStampResp")?;
    check_status(status)?;
    let signed = token
        .signed
        .as_ref()
        .ok_or("the answer is granted but holds no token")?;
    let imprint = &signed.tst.message_imprint;
    if imprint.hash_algorithm.oid != ID_SHA256 || imprint.hashed_message.as_bytes() != digest {
        return Err("the token's message imprint is not the one asked for".into());
    }
    // Both canonical DER INTEGERs: equal encodings, equal numbers.
    let asked = nonce.to_der().map_err(|e| e.to_string())?;
    match &signed.tst.nonce {
        None => return Err("the TSA did not echo the nonce".into()),
        Some(n) => {
            if n.to_der().map_err(|e| e.to_string())? != asked {
                return Err(
                    "the token's nonce is not the one asked for (a replayed or misdirected answer)"
                        .into(),
                );
            }
        }
    }
    let embedded = embedded_certificates(&signed.data);
    let pool: Vec<&Certificate> = embedded.iter().collect();
    check_signature(signed, &pool)?;
    parse_gen_time(&signed.tst.gen_time)?;
    Ok(())
}

/// A transport failure in words.
fn transport_reason(e: ureq::Error) -> String {
    match e {
        ureq::Error::Timeout(what) => format!("no answer in time ({what} timed out)"),
        ureq::Error::Io(io) => format!("connection failed: {io}"),
        ureq::Error::ConnectionFailed => "connection failed".into(),
        ureq::Error::HostNotFound => "host not found".into(),
        ureq::Error::BodyStalled => "the answer stalled".into(),
        ureq::Error::Protocol(p) => format!("not an HTTP answer: {p}"),
        other => other.to_string(),
    }
}

// ---------------------------------------------------------------------
// Display helpers.

/// A URL without its user information (`https://user:pass@host/` ->
/// `https://***@host/`): errors are logged and shown.
pub fn redact(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        let host_end = rest.find('/').unwrap_or(rest.len());
        if let Some(at) = rest[..host_end].rfind('@') {
            return format!("{scheme}://***@{}", &rest[at + 1..]);
        }
    }
    url.to_string()
}

/// Text from a hostile source made safe to show: control characters
/// escaped, length bounded.
fn clean(s: &str) -> String {
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i >= MAX_TEXT {
            out.push('…');
            break;
        }
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// An OID with its name where known.
fn oid_name(oid: &ObjectIdentifier) -> String {
    match const_oid::db::DB.by_oid(oid) {
        Some(name) => format!("{name} ({oid})"),
        None => oid.to_string(),
    }
}

/// A GeneralName for display.
fn general_name(name: &GeneralName) -> String {
    match name {
        GeneralName::DirectoryName(n) => clean(&n.to_string()),
        GeneralName::DnsName(s) => format!("DNS:{}", clean(s.as_str())),
        GeneralName::UniformResourceIdentifier(s) => format!("URI:{}", clean(s.as_str())),
        GeneralName::Rfc822Name(s) => format!("email:{}", clean(s.as_str())),
        GeneralName::RegisteredId(oid) => format!("OID:{oid}"),
        GeneralName::IpAddress(ip) => format!("IP:{}", hex::encode(ip.as_bytes())),
        GeneralName::OtherName(_) | GeneralName::EdiPartyName(_) => {
            "(a name of another form)".into()
        }
    }
}

/// An integer's magnitude as hex, without leading zero bytes.
fn int_hex(i: &Int) -> String {
    let bytes = i.as_bytes();
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    hex::encode(bytes.get(start..).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");

    fn content_info(oid: ObjectIdentifier, content: Any) -> Vec<u8> {
        ContentInfo {
            content_type: oid,
            content,
        }
        .to_der()
        .unwrap()
    }

    fn octets(bytes: &[u8]) -> Any {
        Any::encode_from(&OctetString::new(bytes.to_vec()).unwrap()).unwrap()
    }

    /// A SignedData over `econtent` of type `kind`, without signers.
    fn signed_data(kind: ObjectIdentifier, econtent: &[u8]) -> Vec<u8> {
        let sd = SignedData {
            version: CmsVersion::V3,
            digest_algorithms: Any::new(Tag::Set, Vec::<u8>::new()).unwrap(),
            encap_content_info: EncapsulatedContentInfo {
                econtent_type: kind,
                econtent: Some(octets(econtent)),
            },
            certificates: None,
            crls: None,
            signer_infos: SignerInfos(Default::default()),
        };
        content_info(ID_SIGNED_DATA, Any::encode_from(&sd).unwrap())
    }

    fn tst_info(gen_time: &[u8]) -> Vec<u8> {
        TstInfo {
            version: 1,
            policy: ID_DATA,
            message_imprint: MessageImprint {
                hash_algorithm: AlgorithmIdentifierOwned {
                    oid: ID_SHA256,
                    parameters: None,
                },
                hashed_message: OctetString::new(sha2::Sha256::digest(b"x").to_vec()).unwrap(),
            },
            serial_number: Int::new(&[0x00, 0x9a, 0x01]).unwrap(),
            gen_time: Any::new(Tag::GeneralizedTime, gen_time.to_vec()).unwrap(),
            accuracy: None,
            ordering: false,
            nonce: None,
            tsa: None,
            extensions: None,
        }
        .to_der()
        .unwrap()
    }

    #[test]
    fn shape_limits() {
        assert!(check_shape(&[]).unwrap_err().contains("truncated"));
        assert!(check_shape(&[0x30]).unwrap_err().contains("truncated"));
        assert!(
            check_shape(&[0x30, 0x05, 0x02, 0x01])
                .unwrap_err()
                .contains("truncated")
        );
        assert!(
            check_shape(&[0x30, 0x80, 0x00, 0x00])
                .unwrap_err()
                .contains("indefinite")
        );
        assert!(check_shape(&[0x30, 0x89, 1, 2, 3, 4, 5, 6, 7, 8, 9]).is_err());
        assert!(check_shape(&[0x30, 0x84, 0xff, 0xff, 0xff, 0xff]).is_err());
        assert!(
            check_shape(&[0x02, 0x01, 0x01, 0x00])
                .unwrap_err()
                .contains("after the end")
        );
        assert!(check_shape(&[0x1f, 0x81, 0x81, 0x81, 0x81, 0x01, 0x00]).is_err());
        // Nesting: 40 SEQUENCEs deep.
        let mut deep = vec![0x05, 0x00];
        for _ in 0..40 {
            let mut outer = vec![0x30, deep.len() as u8];
            if deep.len() >= 0x80 {
                outer = vec![0x30, 0x81, deep.len() as u8];
            }
            outer.extend(deep);
            deep = outer;
        }
        assert!(check_shape(&deep).unwrap_err().contains("deeper"));
        // A SET of 300 NULLs: refused before any sorting.
        let mut set = vec![0x31, 0x82, 0x02, 0x58];
        for _ in 0..300 {
            set.extend([0x05, 0x00]);
        }
        assert!(check_shape(&set).unwrap_err().contains("more than"));
        assert!(check_shape(&[0x30, 0x03, 0x02, 0x01, 0x05]).is_ok());
    }

    #[test]
    fn hostile_tokens_are_errors() {
        let ca = b"";
        let err = |bytes: &[u8]| check(bytes, b"x", ca).unwrap_err();
        assert_eq!(err(&[]), "empty");
        assert!(err(&[0x02, 0x01, 0x01]).contains("not a timestamp"));
        assert!(err(b"<html>").contains("not a timestamp"));
        assert!(err(&vec![0u8; MAX_TOKEN_BYTES + 1]).contains("more than"));
        // A ContentInfo of plain data.
        let data = content_info(ID_DATA, octets(b"hello"));
        assert!(err(&data).contains("not CMS SignedData"), "{}", err(&data));
        // SignedData over plain data.
        let sd = signed_data(ID_DATA, b"hello");
        assert!(err(&sd).contains("not a TSTInfo"), "{}", err(&sd));
        // SignedData claiming a TSTInfo that is not one.
        let sd = signed_data(ID_CT_TST_INFO, b"\x30\x03\x02\x01\x01");
        assert!(err(&sd).contains("malformed TSTInfo"), "{}", err(&sd));
        // A real-looking TSTInfo, but no signer.
        let sd = signed_data(ID_CT_TST_INFO, &tst_info(b"20250102030405.25Z"));
        let e = check(&sd, b"x", b"").unwrap_err();
        assert!(e.contains("CA file holds no certificate"), "{e}");
        assert_eq!(
            check(&sd, b"y", b"").unwrap_err(),
            "message imprint does not match the data"
        );
        // Every prefix of these fails without a panic.
        for bytes in [&data, &sd] {
            for len in 0..bytes.len() {
                assert!(parse(&bytes[..len]).is_err());
                assert!(certificates_pem(&bytes[..len]).is_err());
            }
        }
        assert_eq!(certificates_pem(&sd).unwrap(), "");
    }

    #[test]
    fn refused_and_empty_responses() {
        let refused = TimeStampResp {
            status: PkiStatusInfo {
                status: 2,
                status_string: Some(vec!["no\nway".into()]),
                fail_info: Some(BitString::new(0, vec![0x84]).unwrap()),
            },
            time_stamp_token: None,
        }
        .to_der()
        .unwrap();
        let e = check(&refused, b"x", b"").unwrap_err();
        assert_eq!(
            e,
            "the TSA refused: status 2 (rejection), \"no\\nway\", failInfo badAlg badDataFormat"
        );
        let empty = TimeStampResp {
            status: PkiStatusInfo {
                status: 0,
                status_string: None,
                fail_info: None,
            },
            time_stamp_token: None,
        }
        .to_der()
        .unwrap();
        assert_eq!(
            check(&empty, b"x", b"").unwrap_err(),
            "the response holds no timestamp token"
        );
        assert!(check_reply(&empty, &[0; 32], 7).is_err());
    }

    #[test]
    fn gen_time() {
        let t = |s: &[u8]| parse_gen_time(&Any::new(Tag::GeneralizedTime, s.to_vec()).unwrap());
        let g = t(b"20250102030405Z").unwrap();
        assert_eq!(g.rfc3339, "2025-01-02T03:04:05Z");
        assert_eq!(g.unix, 1_735_787_045);
        let g = t(b"20250102030405.123Z").unwrap();
        assert_eq!(g.rfc3339, "2025-01-02T03:04:05.123Z");
        assert_eq!(g.nanos, 123_000_000);
        for bad in [
            &b"20250102030405"[..],
            b"20251302030405Z",
            b"20250230030405Z",
            b"2025010203040Z",
            b"20250102030405.Z",
            b"20250102030405.1234567891Z",
            b"2025010203040aZ",
            b"20250102030405+0100",
            b"\xff\xfe",
        ] {
            assert!(t(bad).is_err(), "{bad:?}");
        }
        let utc = Any::new(Tag::UtcTime, b"250102030405Z".to_vec()).unwrap();
        assert!(
            parse_gen_time(&utc)
                .unwrap_err()
                .contains("not a GeneralizedTime")
        );
    }

    #[test]
    fn ca_files() {
        assert!(
            pem_certificates(b"")
                .unwrap_err()
                .contains("no certificate")
        );
        let e = pem_certificates(b"-----BEGIN CERTIFICATE-----\nAAAA\n").unwrap_err();
        assert!(e.contains("no END line"), "{e}");
        let e = pem_certificates(b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")
            .unwrap_err();
        assert!(e.contains("bad base64"), "{e}");
        let e = pem_certificates(b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n")
            .unwrap_err();
        assert!(
            e.starts_with("certificate 1 of the CA file: malformed certificate"),
            "{e}"
        );
    }

    #[test]
    fn display_helpers() {
        assert_eq!(
            redact("https://u:p@tsa.example/x"),
            "https://***@tsa.example/x"
        );
        assert_eq!(redact("https://tsa.example/a@b"), "https://tsa.example/a@b");
        assert_eq!(clean("a\u{1b}[31mb"), "a\\u{1b}[31mb");
        assert_eq!(clean(&"x".repeat(500)).chars().count(), MAX_TEXT + 1);
        assert_eq!(int_hex(&Int::new(&[0x00, 0x9a, 0x01]).unwrap()), "9a01");
        assert_eq!(int_hex(&Int::new(&[0x00]).unwrap()), "00");
        assert!(Hash::from_oid(&ID_SHA1).unwrap_err().contains("SHA-1"));
    }
}
