//! RFC 3161 timestamps against a real TSA (openssl on loopback), each
//! result cross-checked with `openssl ts -verify`.

#[path = "common/tsa.rs"]
mod tsa;

use std::path::Path;
use std::time::Duration;

use sha2::Digest;
use takedown_evidence::tsa::{certificates_pem, check, request};

const TIMEOUT: Duration = Duration::from_secs(30);

fn write(dir: &Path, name: &str, bytes: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// Requests a stamp of `data` and checks it both ways.
fn stamp_and_check(t: &tsa::TestTsa, data: &[u8]) -> Vec<u8> {
    let tsr = request(&t.url, data, TIMEOUT).expect("request a stamp");
    let stamp = check(&tsr, data, &std::fs::read(&t.ca_pem).unwrap()).expect("check the stamp");
    assert_eq!(stamp.hash, hex::encode(sha2::Sha256::digest(data)));
    let d = t.dir.path();
    let data_file = write(d, "data.bin", data);
    let tsr_file = write(d, "data.tsr", &tsr);
    tsa::openssl_ts_verify(&data_file, &tsr_file, &t.ca_pem).expect("openssl ts -verify");
    tsr
}

#[test]
fn stamp_checks_here_and_with_openssl() {
    let Some(t) = tsa::start() else { return };
    let data = b"tag manifest of a case\n";
    let tsr = stamp_and_check(&t, data);
    let stamp = check(&tsr, data, &std::fs::read(&t.ca_pem).unwrap()).unwrap();

    // genTime is now, give or take, in RFC 3339 UTC.
    let at =
        time::OffsetDateTime::parse(&stamp.time, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("genTime {:?} is not RFC 3339: {e}", stamp.time));
    let skew = (time::OffsetDateTime::now_utc() - at).whole_seconds().abs();
    assert!(skew < 300, "genTime {} is {skew} s from now", stamp.time);
    assert!(stamp.time.ends_with('Z'));
    assert_eq!(stamp.policy, tsa::POLICY);
    assert!(!stamp.serial.is_empty() && stamp.serial.bytes().all(|b| b.is_ascii_hexdigit()));
    let name = stamp.tsa.as_deref().unwrap_or_default();
    assert!(name.contains(tsa::TSA_CN), "tsa name {name:?}");

    // Two stamps get two serials.
    let again = request(&t.url, data, TIMEOUT).unwrap();
    let stamp2 = check(&again, data, &std::fs::read(&t.ca_pem).unwrap()).unwrap();
    assert_ne!(stamp.serial, stamp2.serial);

    // The embedded chain: the TSA's certificate and the root (`certs`).
    let pem = certificates_pem(&tsr).unwrap();
    assert_eq!(
        pem.matches("-----BEGIN CERTIFICATE-----").count(),
        2,
        "{pem}"
    );
    // The extracted chain is itself a usable CA file (it holds the root).
    check(&tsr, data, pem.as_bytes()).expect("check against the embedded chain");
    let tsa_cert = std::fs::read_to_string(&t.tsa_pem).unwrap();
    let body = |p: &str| -> String { p.lines().filter(|l| !l.starts_with("-----")).collect() };
    assert!(body(&pem).contains(&body(&tsa_cert)));
}

#[test]
fn bare_token_checks_too() {
    let Some(t) = tsa::start() else { return };
    let data = b"a bare token";
    let tsr = request(&t.url, data, TIMEOUT).unwrap();
    let token = t.token_of(&tsr);
    assert_ne!(token, tsr);
    let ca = std::fs::read(&t.ca_pem).unwrap();
    check(&token, data, &ca).expect("a bare TimeStampToken");
    assert_eq!(
        certificates_pem(&token).unwrap(),
        certificates_pem(&tsr).unwrap()
    );
    let d = t.dir.path();
    let data_file = write(d, "bare.bin", data);
    let token_file = write(d, "bare.token", &token);
    tsa::openssl_ts_verify_token(&data_file, &token_file, &t.ca_pem).expect("openssl");
}

#[test]
fn swapped_stamp_fails_here_and_with_openssl() {
    let Some(t) = tsa::start() else { return };
    let tsr = request(&t.url, b"the first manifest", TIMEOUT).unwrap();
    let other = b"the second manifest";
    let err = check(&tsr, other, &std::fs::read(&t.ca_pem).unwrap()).unwrap_err();
    assert_eq!(err, "message imprint does not match the data");
    let d = t.dir.path();
    let data_file = write(d, "other.bin", other);
    let tsr_file = write(d, "first.tsr", &tsr);
    let out = tsa::openssl_ts_verify(&data_file, &tsr_file, &t.ca_pem);
    assert!(out.is_err(), "openssl accepted a stamp over other data");
}

#[test]
fn other_ca_fails_here_and_with_openssl() {
    let Some(t) = tsa::start() else { return };
    let data = b"manifest";
    let tsr = request(&t.url, data, TIMEOUT).unwrap();
    let other = t.other_ca();
    let err = check(&tsr, data, &std::fs::read(&other).unwrap()).unwrap_err();
    assert!(
        err.contains("the TSA certificate CN=takedown test TSA")
            && err.contains("is not issued by a certificate of the CA file")
            && err.contains("which the CA file does not hold"),
        "{err}"
    );
    let d = t.dir.path();
    let data_file = write(d, "m.bin", data);
    let tsr_file = write(d, "m.tsr", &tsr);
    assert!(tsa::openssl_ts_verify(&data_file, &tsr_file, &other).is_err());

    // A CA file with the right root among others still anchors it.
    let mut both = std::fs::read(&other).unwrap();
    both.extend(b"some text between blocks\n");
    both.extend(std::fs::read(&t.ca_pem).unwrap());
    check(&tsr, data, &both).expect("the root among others");

    // Not a CA file at all.
    let err = check(&tsr, data, b"no certificates here").unwrap_err();
    assert!(err.contains("holds no certificate"), "{err}");
}

#[test]
fn altered_token_fails() {
    let Some(t) = tsa::start() else { return };
    let data = b"manifest to alter";
    let ca = std::fs::read(&t.ca_pem).unwrap();
    let tsr = request(&t.url, data, TIMEOUT).unwrap();
    check(&tsr, data, &ca).unwrap();

    // The signature is the last thing in the token (no unsigned attributes).
    let mut bad = tsr.clone();
    *bad.last_mut().unwrap() ^= 0x01;
    let err = check(&bad, data, &ca).unwrap_err();
    assert!(
        err.starts_with("signature of the TSA does not verify"),
        "{err}"
    );

    // A digit of genTime (inside the signed TSTInfo).
    let stamp = check(&tsr, data, &ca).unwrap();
    let digits: String = stamp.time[..19]
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let at = tsr
        .windows(digits.len())
        .position(|w| w == digits.as_bytes())
        .expect("genTime in the token");
    let mut bad = tsr.clone();
    bad[at + 13] = if bad[at + 13] == b'1' { b'2' } else { b'1' };
    let err = check(&bad, data, &ca).unwrap_err();
    assert!(
        err.contains("message-digest attribute does not match"),
        "{err}"
    );

    // Every proper prefix fails, without a panic.
    for len in 0..tsr.len() {
        assert!(
            check(&tsr[..len], data, &ca).is_err(),
            "prefix of {len} bytes passed"
        );
    }
    // Every single-bit flip: no panic; flips in the TSTInfo and the
    // signature all fail (checked above by kind; here by count).
    let mut failed = 0;
    for i in (0..tsr.len()).step_by(3) {
        let mut bad = tsr.clone();
        bad[i] ^= 0x10;
        if check(&bad, data, &ca).is_err() {
            failed += 1;
        }
        let _ = certificates_pem(&bad);
    }
    assert!(failed > tsr.len() / 3 / 2, "only {failed} flips failed");
}

#[test]
fn sha384_and_sha512_imprints() {
    let Some(t) = tsa::start() else { return };
    let d = t.dir.path();
    let data = b"stamped with a longer digest";
    let data_file = write(d, "long.bin", data);
    let ca = std::fs::read(&t.ca_pem).unwrap();
    for (digest, hex_len) in [("sha384", 96), ("sha512", 128)] {
        let tsr = t.stamp_with_openssl(&data_file, digest);
        let stamp = check(&tsr, data, &ca).unwrap_or_else(|e| panic!("{digest}: {e}"));
        assert_eq!(stamp.hash.len(), hex_len);
        let err = check(&tsr, b"other", &ca).unwrap_err();
        assert_eq!(err, "message imprint does not match the data");
    }
}

#[test]
fn other_key_types() {
    // PSS-signed certificates, ECDSA P-384 and P-256 token signatures,
    // an RSA root.
    for (ca, tsa_key) in [
        (tsa::Key::RsaPss2048, tsa::Key::EcP384),
        (tsa::Key::Rsa2048, tsa::Key::EcP256),
    ] {
        let Some(t) = tsa::start_with(tsa::Options {
            ca,
            tsa: tsa_key,
            ..Default::default()
        }) else {
            return;
        };
        stamp_and_check(&t, format!("{ca:?} {tsa_key:?}").as_bytes());
    }
}

#[test]
fn chain_through_an_intermediate() {
    let Some(t) = tsa::start_with(tsa::Options {
        intermediate: true,
        embed_root: false,
        ..Default::default()
    }) else {
        return;
    };
    let data = b"through an intermediate";
    let tsr = stamp_and_check(&t, data);
    assert_eq!(
        certificates_pem(&tsr)
            .unwrap()
            .matches("BEGIN CERTIFICATE")
            .count(),
        2
    );
    let err = check(&tsr, data, &std::fs::read(t.other_ca()).unwrap()).unwrap_err();
    assert!(
        err.starts_with("the TSA certificate CN=takedown test TSA,O=takedown tests is not issued by a certificate of the CA file: its chain ends at CN=takedown test intermediate CA")
            && err.contains("its key did not sign it"),
        "{err}"
    );
}

#[test]
fn untrusted_root_not_in_the_token() {
    let Some(t) = tsa::start_with(tsa::Options {
        embed_root: false,
        ..Default::default()
    }) else {
        return;
    };
    let data = b"no root in the token";
    let tsr = stamp_and_check(&t, data);
    assert_eq!(
        certificates_pem(&tsr)
            .unwrap()
            .matches("BEGIN CERTIFICATE")
            .count(),
        1
    );
    let err = check(&tsr, data, &std::fs::read(t.other_ca()).unwrap()).unwrap_err();
    assert_eq!(
        err,
        "the TSA certificate CN=takedown test TSA,O=takedown tests is not issued by a certificate \
         of the CA file (the CA file has a certificate named CN=takedown test root CA,O=takedown \
         tests, but its key did not sign it)"
    );
    // The TSA's own certificate is no CA file for it.
    // The TSA's own certificate is no CA file: the chain must end at a
    // self-signed root of the CA file, as for `openssl ts -verify`.
    let err = check(&tsr, data, &std::fs::read(&t.tsa_pem).unwrap()).unwrap_err();
    assert!(
        err.ends_with("(its issuer is CN=takedown test root CA,O=takedown tests)"),
        "{err}"
    );
    let d = t.dir.path();
    let data_file = write(d, "x.bin", data);
    let tsr_file = write(d, "x.tsr", &tsr);
    assert!(tsa::openssl_ts_verify(&data_file, &tsr_file, &t.tsa_pem).is_err());
}

#[test]
fn token_with_the_tsa_certificate_twice() {
    let Some(t) = tsa::start_with(tsa::Options {
        duplicate_tsa_cert: true,
        ..Default::default()
    }) else {
        return;
    };
    let tsr = stamp_and_check(&t, b"twice");
    assert_eq!(
        certificates_pem(&tsr)
            .unwrap()
            .matches("BEGIN CERTIFICATE")
            .count(),
        3
    );
}

fn client_error(behaviour: tsa::Behaviour) -> String {
    let t = tsa::start_with(tsa::Options {
        behaviour,
        ..Default::default()
    })
    .expect("openssl present (checked by the caller)");
    let err = request(&t.url, b"data", TIMEOUT).unwrap_err().to_string();
    assert!(
        err.contains(&t.url),
        "{behaviour:?}: the error does not name the URL: {err}"
    );
    err
}

#[test]
fn bad_answers_are_errors_naming_the_url() {
    if !tsa::openssl_present() {
        return;
    }
    let err = client_error(tsa::Behaviour::Garbage);
    assert!(err.contains("bad answer"), "{err}");
    let err = client_error(tsa::Behaviour::Rejection);
    assert!(
        err.contains("status 2 (rejection)")
            && err.contains(tsa::REJECTION_TEXT)
            && err.contains("badAlg"),
        "{err}"
    );
    let err = client_error(tsa::Behaviour::WrongImprint);
    assert!(
        err.contains("message imprint is not the one asked for"),
        "{err}"
    );
    let err = client_error(tsa::Behaviour::ServerError);
    assert!(err.contains("HTTP status 500"), "{err}");

    // A replayed answer: right imprint, wrong nonce.
    let t = tsa::start_with(tsa::Options {
        behaviour: tsa::Behaviour::Replay,
        ..Default::default()
    })
    .unwrap();
    request(&t.url, b"same data", TIMEOUT).expect("the first answer is fresh");
    let err = request(&t.url, b"same data", TIMEOUT)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&t.url) && err.contains("nonce"), "{err}");
}

#[test]
fn unreachable_tsa_names_the_url() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}/tsa");
    let err = request(&url, b"data", Duration::from_secs(5))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("timestamp: ") && err.contains(&url),
        "{err}"
    );
}
