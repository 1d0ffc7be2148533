//! RS256 signing keys of the county IdPs.
//!
//! RSA-2048 generation is slow in debug builds (seconds), so every county
//! starts with ONE shared key: loaded from (or first written to)
//! `{data_dir}/idp-signing-key.pem`, or, in memory, generated once per
//! process. `rotate-keys` gives a county its own fresh key; older keys stay
//! in that county's JWKS so tokens they signed still verify.

use std::path::Path;
use std::sync::{Arc, OnceLock};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use jsonwebtoken::{DecodingKey, EncodingKey};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use rsa::RsaPrivateKey;
use sha2::{Digest, Sha256};

use super::error::IdpError;

/// File name of the persisted initial key inside `data_dir`.
pub const KEY_FILE: &str = "idp-signing-key.pem";
const KEY_BITS: usize = 2048;
/// How many keys a county's JWKS keeps after rotations.
const MAX_KEYS: usize = 4;

/// One RSA key pair, ready to sign (RS256) and verify, with its JWK.
pub struct SigningKey {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: serde_json::Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Generates a fresh RSA-2048 key (blocking; seconds in debug builds).
    pub fn generate() -> Result<Self, IdpError> {
        let key = RsaPrivateKey::new(&mut rand::thread_rng(), KEY_BITS)
            .map_err(|e| IdpError::Keys(e.to_string()))?;
        Self::from_private(&key)
    }

    fn from_private(key: &RsaPrivateKey) -> Result<Self, IdpError> {
        let der = key
            .to_pkcs1_der()
            .map_err(|e| IdpError::Keys(e.to_string()))?;
        let encoding = EncodingKey::from_rsa_der(der.as_bytes());
        let n = URL_SAFE_NO_PAD.encode(key.n().to_bytes_be());
        let e = URL_SAFE_NO_PAD.encode(key.e().to_bytes_be());
        let decoding =
            DecodingKey::from_rsa_components(&n, &e).map_err(|e| IdpError::Keys(e.to_string()))?;
        // RFC 7638 thumbprint: members in lexicographic order, no spaces.
        let thumb_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumb_input.as_bytes()));
        let jwk = serde_json::json!({
            "kty": "RSA", "use": "sig", "alg": "RS256", "kid": kid, "n": n, "e": e,
        });
        Ok(Self {
            kid,
            encoding,
            decoding,
            jwk,
        })
    }

    /// The key id (`kid`): the RFC 7638 JWK thumbprint.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.encoding
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.decoding
    }

    /// The public key as a JWK (RFC 7517).
    pub fn jwk(&self) -> &serde_json::Value {
        &self.jwk
    }
}

/// Loads the initial key from `data_dir` (writing a new one the first time,
/// mode 0600), or returns the process-wide in-memory key. Blocking.
pub fn load_or_generate(data_dir: Option<&Path>) -> Result<Arc<SigningKey>, IdpError> {
    match data_dir {
        Some(dir) => load_or_create_file(dir).map(Arc::new),
        None => {
            static SHARED: OnceLock<Result<Arc<SigningKey>, String>> = OnceLock::new();
            SHARED
                .get_or_init(|| {
                    SigningKey::generate()
                        .map(Arc::new)
                        .map_err(|e| e.to_string())
                })
                .clone()
                .map_err(IdpError::Keys)
        }
    }
}

fn load_or_create_file(dir: &Path) -> Result<SigningKey, IdpError> {
    let path = dir.join(KEY_FILE);
    let io = |e: std::io::Error| IdpError::Keys(format!("{}: {e}", path.display()));
    match std::fs::read_to_string(&path) {
        Ok(pem) => {
            let key = RsaPrivateKey::from_pkcs8_pem(&pem)
                .map_err(|e| IdpError::Keys(format!("{}: {e}", path.display())))?;
            SigningKey::from_private(&key)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            std::fs::create_dir_all(dir).map_err(io)?;
            let key = RsaPrivateKey::new(&mut rand::thread_rng(), KEY_BITS)
                .map_err(|e| IdpError::Keys(e.to_string()))?;
            let pem = key
                .to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| IdpError::Keys(e.to_string()))?;
            write_private(&path, pem.as_bytes()).map_err(io)?;
            tracing::info!(path = %path.display(), "generated the sandbox IdP signing key");
            SigningKey::from_private(&key)
        }
        Err(e) => Err(io(e)),
    }
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// One county's keys: the last one signs, all are published.
#[derive(Debug, Clone)]
pub struct KeyRing {
    keys: Vec<Arc<SigningKey>>,
}

impl KeyRing {
    pub fn new(initial: Arc<SigningKey>) -> Self {
        Self {
            keys: vec![initial],
        }
    }

    /// The key that signs new tokens.
    pub fn signing(&self) -> Arc<SigningKey> {
        // `keys` is never empty: built with one and `rotate` only appends
        // before trimming the oldest.
        Arc::clone(&self.keys[self.keys.len() - 1])
    }

    /// A published key by id.
    pub fn find(&self, kid: &str) -> Option<Arc<SigningKey>> {
        self.keys.iter().find(|k| k.kid == kid).cloned()
    }

    /// Makes `key` the signing key; the previous ones stay published.
    pub fn rotate(&mut self, key: Arc<SigningKey>) {
        self.keys.push(key);
        if self.keys.len() > MAX_KEYS {
            self.keys.remove(0);
        }
    }

    /// The JWKS document (newest key first).
    pub fn jwks(&self) -> serde_json::Value {
        let keys: Vec<_> = self.keys.iter().rev().map(|k| k.jwk().clone()).collect();
        serde_json::json!({ "keys": keys })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persisted_key_is_reloaded_with_the_same_kid() {
        let dir = tempfile::tempdir().unwrap();
        let a = load_or_generate(Some(dir.path())).unwrap();
        let b = load_or_generate(Some(dir.path())).unwrap();
        assert_eq!(a.kid(), b.kid());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o077, 0, "key file must not be group/world readable");
        }
        let jwk = a.jwk();
        assert_eq!(jwk["kty"], "RSA");
        assert_eq!(jwk["kid"], a.kid());
        assert_eq!(jwk["e"], "AQAB");
    }

    #[test]
    fn a_corrupt_key_file_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(KEY_FILE), "not a pem").unwrap();
        let err = load_or_generate(Some(dir.path())).unwrap_err();
        assert_eq!(err.code(), "idp.keys");
    }

    #[test]
    fn ring_rotates_and_keeps_old_keys_published() {
        let first = load_or_generate(None).unwrap();
        let mut ring = KeyRing::new(Arc::clone(&first));
        assert_eq!(ring.signing().kid(), first.kid());
        // A second key without paying for RSA generation: reuse the persisted
        // path in a temp dir.
        let dir = tempfile::tempdir().unwrap();
        let second = load_or_generate(Some(dir.path())).unwrap();
        ring.rotate(Arc::clone(&second));
        assert_eq!(ring.signing().kid(), second.kid());
        assert!(ring.find(first.kid()).is_some());
        let jwks = ring.jwks();
        assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
        assert_eq!(jwks["keys"][0]["kid"], second.kid());
    }
}
