//! The examiner's key: an OpenSSH Ed25519 key that signs every custody
//! entry, so that `ssh-keygen -Y verify` checks the log without takedown.
//!
//! The key is an ordinary OpenSSH private key file (what `ssh-keygen -t
//! ed25519 -N ''` writes), read and written with RustCrypto's `ssh-key`
//! rather than a hand-written wire format. Like ssh, takedown refuses a
//! private key file that others can read, and it never overwrites one.
//! Signatures are SSHSIG (OpenSSH's `PROTOCOL.sshsig`), armored, with the
//! namespace [`crate::SIG_NAMESPACE`] and SHA-512, exactly what
//! `ssh-keygen -Y sign -n takedown-custody@takedown` makes.

use crate::Error;
use ssh_key::private::{Ed25519Keypair, KeypairData};
use ssh_key::{Algorithm, HashAlg, LineEnding, PrivateKey, PublicKey, SshSig};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

/// The largest key file read. An OpenSSH Ed25519 key is about 400 bytes
/// and an RSA-16384 one under 13 KiB; the limit stops a key path that
/// points at a device or a huge file from eating memory.
const MAX_KEY_FILE: u64 = 64 * 1024;

/// The largest armored signature parsed. An Ed25519 SSHSIG is about 300
/// bytes; anything much larger is not one of ours and is not decoded.
const MAX_SIGNATURE: usize = 16 * 1024;

/// The largest public key line parsed (an RSA-16384 key is about 2.8 KiB
/// of base64); longer input is refused before it is decoded.
const MAX_PUBLIC_KEY: usize = 8 * 1024;

/// The comment written into a generated key file (never into a signature
/// or a custody entry, which carry the bare key).
const GENERATED_COMMENT: &str = "takedown examiner";

/// The examiner's Ed25519 private key, which signs custody entries.
pub struct Signer {
    key: PrivateKey,
    /// The bare public key (`ssh-ed25519 AAAA...`), computed once.
    public: String,
}

impl std::fmt::Debug for Signer {
    // Never print the private key, only which key it is.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("fingerprint", &self.fingerprint())
            .finish_non_exhaustive()
    }
}

impl Signer {
    /// Reads the key at `path`, or generates one there when there is no
    /// file. Returns the signer and whether it was generated.
    ///
    /// A generated key is written in OpenSSH format with mode 0600 (the
    /// file is created exclusively, so an existing key is never
    /// overwritten), in a directory created 0700 if missing, with the
    /// public key beside it in `<path>.pub`.
    pub fn load_or_generate(path: &Path) -> Result<(Signer, bool), Error> {
        match Signer::load(path) {
            Ok(s) => Ok((s, false)),
            Err(Error::Io { .. }) if !path_exists(path) => match generate(path) {
                Ok(s) => Ok((s, true)),
                // Another process made it between our look and our create:
                // use theirs, as if it had been there all along.
                Err(GenerateError::Exists) => Ok((Signer::load(path)?, false)),
                Err(GenerateError::Other(e)) => Err(e),
            },
            Err(e) => Err(e),
        }
    }

    /// Reads the key at `path`: an unencrypted OpenSSH Ed25519 private
    /// key, which on Unix only its owner may read.
    pub fn load(path: &Path) -> Result<Signer, Error> {
        let shown = path.display();
        let mut file = std::fs::File::open(path)
            .map_err(|e| Error::io(format!("opening the examiner key {shown}"), &e))?;
        let meta = file
            .metadata()
            .map_err(|e| Error::io(format!("reading the examiner key {shown}"), &e))?;
        if !meta.is_file() {
            return Err(Error::Refused(format!(
                "the examiner key {shown} is not a regular file"
            )));
        }
        check_private_mode(path, &meta)?;
        if meta.len() > MAX_KEY_FILE {
            return Err(Error::Invalid(format!(
                "the examiner key {shown} is {} bytes, more than any OpenSSH key \
                 ({MAX_KEY_FILE} at most): not a key file",
                meta.len()
            )));
        }
        // Zeroized on drop: the file holds the private key in the clear.
        let mut text = zeroize::Zeroizing::new(Vec::new());
        Read::by_ref(&mut file)
            .take(MAX_KEY_FILE)
            .read_to_end(&mut text)
            .map_err(|e| Error::io(format!("reading the examiner key {shown}"), &e))?;
        let key = PrivateKey::from_openssh(&*text).map_err(|e| {
            Error::Invalid(format!(
                "the examiner key {shown} is not an OpenSSH private key ({e}); \
                 make one with `ssh-keygen -t ed25519 -N '' -f {shown}` or let \
                 takedown generate it"
            ))
        })?;
        Signer::from_private_key(key, path)
    }

    /// Checks that `key` is one takedown signs with.
    fn from_private_key(key: PrivateKey, path: &Path) -> Result<Signer, Error> {
        let shown = path.display();
        if key.is_encrypted() {
            return Err(Error::Refused(format!(
                "the examiner key {shown} is protected by a passphrase, which takedown \
                 cannot ask for: use an Ed25519 key without a passphrase, kept on an \
                 encrypted disk"
            )));
        }
        if key.algorithm() != Algorithm::Ed25519 {
            return Err(Error::Refused(format!(
                "the examiner key {shown} is an {} key: custody entries are signed \
                 with Ed25519 keys only (`ssh-keygen -t ed25519`)",
                key.algorithm()
            )));
        }
        let public = bare_openssh(key.public_key())
            .map_err(|e| Error::Invalid(format!("the examiner key {shown}: {e}")))?;
        Ok(Signer { key, public })
    }

    /// The public key as one OpenSSH line without a comment
    /// (`ssh-ed25519 AAAA...`), as custody entries and `allowed_signers`
    /// carry it.
    pub fn public_openssh(&self) -> String {
        self.public.clone()
    }

    /// The key's fingerprint as `ssh-keygen -l` prints it (`SHA256:...`).
    pub fn fingerprint(&self) -> String {
        self.key.fingerprint(HashAlg::Sha256).to_string()
    }

    /// Signs `msg`: an armored SSHSIG signature (`-----BEGIN SSH
    /// SIGNATURE-----`, ending with a newline, as `ssh-keygen -Y sign`
    /// writes it), namespace [`crate::SIG_NAMESPACE`], SHA-512.
    pub fn sign(&self, msg: &[u8]) -> Result<String, Error> {
        let sig = self
            .key
            .sign(crate::SIG_NAMESPACE, HashAlg::Sha512, msg)
            .map_err(|e| Error::Invalid(format!("signing with the examiner key: {e}")))?;
        let mut armored = sig
            .to_pem(LineEnding::LF)
            .map_err(|e| Error::Invalid(format!("encoding a signature: {e}")))?;
        if !armored.ends_with('\n') {
            armored.push('\n');
        }
        Ok(armored)
    }
}

/// Why generating a key failed.
enum GenerateError {
    /// The key file appeared meanwhile.
    Exists,
    /// Anything else.
    Other(Error),
}

/// Whether something (a file, a dangling link) is at `path`.
fn path_exists(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Generates a key and writes it to `path` (exclusively, 0600) and its
/// public half to `<path>.pub`.
fn generate(path: &Path) -> Result<Signer, GenerateError> {
    let shown = path.display();
    let mut seed = zeroize::Zeroizing::new([0u8; 32]);
    getrandom::fill(&mut *seed).map_err(|e| {
        GenerateError::Other(Error::Invalid(format!(
            "no random numbers from the system to make a key: {e}"
        )))
    })?;
    let keypair = Ed25519Keypair::from_seed(&seed);
    let key = PrivateKey::new(KeypairData::Ed25519(keypair), GENERATED_COMMENT)
        .map_err(|e| GenerateError::Other(Error::Invalid(format!("making a key: {e}"))))?;
    let pem = key
        .to_openssh(LineEnding::LF)
        .map_err(|e| GenerateError::Other(Error::Invalid(format!("encoding the new key: {e}"))))?;

    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_private_dir(parent).map_err(|e| {
            GenerateError::Other(Error::io(
                format!("creating the key directory {}", parent.display()),
                &e,
            ))
        })?;
    }
    let mut file = match create_private_file(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(GenerateError::Exists);
        }
        Err(e) => {
            return Err(GenerateError::Other(Error::io(
                format!("creating the examiner key {shown}"),
                &e,
            )));
        }
    };
    let written = file
        .write_all(pem.as_bytes())
        .and_then(|()| file.sync_all());
    if let Err(e) = written {
        // A half-written key would be refused as malformed on every later
        // run; remove it so that the next run generates a whole one.
        drop(file);
        let _ = std::fs::remove_file(path);
        return Err(GenerateError::Other(Error::io(
            format!("writing the examiner key {shown}"),
            &e,
        )));
    }
    let signer = Signer::from_private_key(key, path).map_err(GenerateError::Other)?;
    let mut pub_path = path.as_os_str().to_owned();
    pub_path.push(".pub");
    let pub_path = PathBuf::from(pub_path);
    // The public half is a convenience copy (any holder of the private key
    // can derive it with `ssh-keygen -y`), so it is simply replaced.
    let line = format!("{} {GENERATED_COMMENT}\n", signer.public);
    std::fs::write(&pub_path, line).map_err(|e| {
        GenerateError::Other(Error::io(
            format!("writing the public key {}", pub_path.display()),
            &e,
        ))
    })?;
    Ok(signer)
}

/// Creates `dir` and its missing parents, owner-only on Unix (the key
/// directory should not even reveal which keys are in it).
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

/// Creates `path` exclusively, readable by its owner only on Unix.
fn create_private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path)
}

/// Refuses a private key that the group or others can read or write, as
/// ssh does: such a key may be known to someone else, and every entry it
/// signed would prove nothing.
#[cfg(unix)]
fn check_private_mode(path: &Path, meta: &std::fs::Metadata) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        let shown = path.display();
        return Err(Error::Refused(format!(
            "permissions {mode:04o} for {shown} are too open: a private key must be \
             readable by its owner only (chmod 600 {shown})"
        )));
    }
    Ok(())
}

/// On other systems access is governed by ACLs that std cannot read; the
/// key is accepted as it is.
#[cfg(not(unix))]
fn check_private_mode(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), Error> {
    Ok(())
}

/// `key` as one OpenSSH line without its comment.
fn bare_openssh(key: &PublicKey) -> Result<String, String> {
    PublicKey::new(key.key_data().clone(), "")
        .to_openssh()
        .map(|s| s.trim_end().to_string())
        .map_err(|e| format!("encoding the public key: {e}"))
}

/// Parses an OpenSSH public key line (`ssh-ed25519 AAAA... [comment]`).
pub(crate) fn parse_public(public_openssh: &str) -> Result<PublicKey, String> {
    let text = public_openssh.trim();
    if text.len() > MAX_PUBLIC_KEY {
        return Err(format!(
            "a public key of {} bytes, more than any OpenSSH key",
            text.len()
        ));
    }
    PublicKey::from_openssh(text).map_err(|e| format!("not an OpenSSH public key ({e})"))
}

/// Parses an Ed25519 OpenSSH public key and gives it back as the bare line
/// takedown stores (`ssh-ed25519 AAAA...`, no comment).
pub fn normalize_ed25519(public_openssh: &str) -> Result<String, String> {
    let key = parse_public(public_openssh)?;
    if key.algorithm() != Algorithm::Ed25519 {
        return Err(format!(
            "an {} key: custody entries are signed with Ed25519 keys only",
            key.algorithm()
        ));
    }
    bare_openssh(&key)
}

/// Whether two OpenSSH public key lines are the same key (comments aside).
pub fn same_key(a: &str, b: &str) -> bool {
    match (parse_public(a), parse_public(b)) {
        (Ok(a), Ok(b)) => a.key_data() == b.key_data(),
        _ => false,
    }
}

/// Checks that `armored` is an SSHSIG signature over `msg` made by the key
/// `public_openssh` for the namespace [`crate::SIG_NAMESPACE`]: what
/// `ssh-keygen -Y verify` checks, the key taken as given rather than found
/// by principal. The error says which part failed.
pub fn verify_signature(public_openssh: &str, msg: &[u8], armored: &str) -> Result<(), String> {
    let key = parse_public(public_openssh).map_err(|e| format!("the signer's key is {e}"))?;
    if armored.len() > MAX_SIGNATURE {
        return Err(format!(
            "the signature is {} bytes, more than any SSH signature",
            armored.len()
        ));
    }
    let sig = SshSig::from_pem(armored.trim().as_bytes())
        .map_err(|e| format!("not an armored SSH signature ({e})"))?;
    if sig.public_key() != key.key_data() {
        let other = ssh_key::Fingerprint::new(HashAlg::Sha256, sig.public_key());
        return Err(format!(
            "made by the key {other}, not {}",
            key.fingerprint(HashAlg::Sha256)
        ));
    }
    if sig.namespace() != crate::SIG_NAMESPACE {
        return Err(format!(
            "made for the namespace {:?}, not {:?}",
            sig.namespace(),
            crate::SIG_NAMESPACE
        ));
    }
    key.verify(crate::SIG_NAMESPACE, msg, &sig)
        .map_err(|_| "the signature does not match the signed bytes".to_string())
}

/// The fingerprint of an OpenSSH public key line, as `ssh-keygen -l`
/// prints it (`SHA256:...`).
pub fn fingerprint_of(public_openssh: &str) -> Result<String, String> {
    Ok(parse_public(public_openssh)?
        .fingerprint(HashAlg::Sha256)
        .to_string())
}

/// Where the examiner's key is kept unless `--key` says otherwise:
/// `$XDG_CONFIG_HOME/takedown/examiner_ed25519`, else
/// `~/.config/takedown/examiner_ed25519` (on Windows
/// `%APPDATA%\takedown\examiner_ed25519`). `None` when no home is known.
pub fn default_key_path() -> Option<PathBuf> {
    const NAME: &str = "examiner_ed25519";
    #[cfg(windows)]
    {
        let appdata = std::env::var_os("APPDATA").filter(|v| !v.is_empty())?;
        Some(PathBuf::from(appdata).join("takedown").join(NAME))
    }
    #[cfg(not(windows))]
    {
        // The XDG base directory spec says a relative value is invalid and
        // is to be ignored.
        let xdg = std::env::var_os("XDG_CONFIG_HOME")
            .map(PathBuf::from)
            .filter(|p| p.is_absolute());
        let config = match xdg {
            Some(p) => p,
            None => {
                let home = std::env::var_os("HOME")
                    .map(PathBuf::from)
                    .filter(|p| p.is_absolute())?;
                home.join(".config")
            }
        };
        Some(config.join("takedown").join(NAME))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tempdir() -> tempfile::TempDir {
        tempfile::tempdir().expect("tempdir")
    }

    #[test]
    fn generate_then_load_gives_the_same_key() {
        let dir = tempdir();
        let path = dir.path().join("sub").join("key");
        let (a, generated) = Signer::load_or_generate(&path).expect("generate");
        assert!(generated);
        let (b, generated) = Signer::load_or_generate(&path).expect("load");
        assert!(!generated);
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_eq!(a.public_openssh(), b.public_openssh());
        assert!(a.public_openssh().starts_with("ssh-ed25519 AAAA"));
        assert_eq!(a.public_openssh().split(' ').count(), 2);
        assert!(a.fingerprint().starts_with("SHA256:"));
        let pub_line = std::fs::read_to_string(dir.path().join("sub").join("key.pub")).unwrap();
        assert!(pub_line.starts_with(&a.public_openssh()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
            let mode = std::fs::metadata(dir.path().join("sub"))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o700);
        }
    }

    #[test]
    fn sign_and_verify() {
        let dir = tempdir();
        let (s, _) = Signer::load_or_generate(&dir.path().join("k")).unwrap();
        let sig = s.sign(b"hello").unwrap();
        assert!(sig.starts_with("-----BEGIN SSH SIGNATURE-----\n"));
        assert!(sig.ends_with("-----END SSH SIGNATURE-----\n"));
        verify_signature(&s.public_openssh(), b"hello", &sig).unwrap();
        let err = verify_signature(&s.public_openssh(), b"hellO", &sig).unwrap_err();
        assert!(err.contains("does not match"), "{err}");
        let (other, _) = Signer::load_or_generate(&dir.path().join("k2")).unwrap();
        let err = verify_signature(&other.public_openssh(), b"hello", &sig).unwrap_err();
        assert!(err.contains(&s.fingerprint()), "{err}");
        assert!(verify_signature(&s.public_openssh(), b"hello", "garbage").is_err());
        assert_eq!(
            fingerprint_of(&s.public_openssh()).unwrap(),
            s.fingerprint()
        );
        assert!(fingerprint_of("ssh-ed25519 !!!").is_err());
    }

    #[test]
    fn other_namespace_is_refused() {
        let dir = tempdir();
        let (s, _) = Signer::load_or_generate(&dir.path().join("k")).unwrap();
        let sig = s
            .key
            .sign("file", HashAlg::Sha512, b"m")
            .unwrap()
            .to_pem(LineEnding::LF)
            .unwrap();
        let err = verify_signature(&s.public_openssh(), b"m", &sig).unwrap_err();
        assert!(err.contains("namespace"), "{err}");
    }

    #[test]
    fn malformed_key_file_is_refused_by_name() {
        let dir = tempdir();
        let path = dir.path().join("k");
        create_private_file(&path)
            .unwrap()
            .write_all(b"not a key")
            .unwrap();
        let err = Signer::load_or_generate(&path).unwrap_err().to_string();
        assert!(err.contains(&path.display().to_string()), "{err}");
        assert!(err.contains("not an OpenSSH private key"), "{err}");
        // Still the garbage: never overwritten.
        assert_eq!(std::fs::read(&path).unwrap(), b"not a key");
    }

    #[cfg(unix)]
    #[test]
    fn open_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempdir();
        let path = dir.path().join("k");
        Signer::load_or_generate(&path).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        let err = Signer::load(&path).unwrap_err().to_string();
        assert!(
            err.contains(&format!(
                "permissions 0640 for {} are too open",
                path.display()
            )),
            "{err}"
        );
    }

    #[test]
    fn normalize_strips_comment_and_refuses_other_algorithms() {
        let dir = tempdir();
        let (s, _) = Signer::load_or_generate(&dir.path().join("k")).unwrap();
        let with_comment = format!("{} someone@host", s.public_openssh());
        assert_eq!(
            normalize_ed25519(&with_comment).unwrap(),
            s.public_openssh()
        );
        assert!(same_key(&with_comment, &s.public_openssh()));
        let err = normalize_ed25519("ssh-ed25519 AAAA").unwrap_err();
        assert!(err.contains("not an OpenSSH public key"), "{err}");
    }

    #[test]
    fn default_path_ends_in_takedown() {
        if let Some(p) = default_key_path() {
            assert!(p.ends_with("takedown/examiner_ed25519"), "{}", p.display());
        }
    }
}
