//! What a county IdP remembers between requests: pending login forms,
//! authorization codes, access and refresh tokens, "stay signed in" browser
//! sessions — all in memory, keyed by the SHA-256 of the secret value (the
//! raw codes and tokens are never stored). A restart forgets them, which a
//! real IdP's short lifetimes make harmless.
//!
//! Plus the registry's [`Clock`], which tests can move forward.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::RngCore as _;
use sha2::{Digest, Sha256};
use url::Url;

use super::pages::Locale;

/// Authorization code lifetime (seconds).
pub const CODE_TTL: i64 = 60;
/// Access (and ID) token lifetime (seconds).
pub const ACCESS_TTL: i64 = 3600;
/// Refresh token lifetime (seconds).
pub const REFRESH_TTL: i64 = 30 * 24 * 3600;
/// How long a login form stays usable (seconds).
pub const LOGIN_FORM_TTL: i64 = 15 * 60;
/// "Stay signed in" session lifetime (seconds).
pub const SESSION_TTL: i64 = 30 * 24 * 3600;
/// Wrong passwords allowed on one login form before it is withdrawn.
pub const MAX_LOGIN_ATTEMPTS: u32 = 5;
/// Used codes are remembered this long so a replay can be detected.
const USED_CODE_MEMORY: i64 = 600;

/// Unix seconds, with an offset tests can advance (never goes back).
#[derive(Debug, Default)]
pub struct Clock {
    offset: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        real + self.offset.load(Ordering::Relaxed)
    }

    /// Moves the clock forward by `seconds` (negative values are ignored).
    pub fn advance(&self, seconds: i64) {
        if seconds > 0 {
            self.offset.fetch_add(seconds, Ordering::Relaxed);
        }
    }
}

/// 256 random bits, base64url: codes, tokens, form tokens, session ids.
pub fn random_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The storage key of a secret: its SHA-256, base64url.
pub fn key_of(secret: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(secret.as_bytes()))
}

/// A validated authorization request, waiting for the user.
#[derive(Debug, Clone)]
pub struct AuthRequest {
    pub client_id: String,
    pub redirect_uri: Url,
    /// Granted scopes (requested ∩ supported), in request order.
    pub scopes: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub locale: Locale,
    /// The request's parameters, to rebuild the language-switch link.
    pub query: Vec<(String, String)>,
}

#[derive(Debug)]
pub struct PendingLogin {
    pub request: AuthRequest,
    /// Key of the browser-binding cookie the form was served to.
    pub binding: String,
    pub expires_at: i64,
    pub attempts: u32,
}

#[derive(Debug)]
pub struct CodeGrant {
    pub request: AuthRequest,
    pub username: String,
    pub auth_time: i64,
    pub expires_at: i64,
    pub used: bool,
    /// Token family the exchange creates; revoked if the code is replayed.
    pub family: String,
}

#[derive(Debug, Clone)]
pub struct AccessGrant {
    pub username: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub expires_at: i64,
    pub family: String,
}

impl AccessGrant {
    pub fn has_scope(&self, s: &str) -> bool {
        self.scopes.iter().any(|x| x == s)
    }
}

#[derive(Debug, Clone)]
pub struct RefreshGrant {
    pub username: String,
    pub client_id: String,
    pub scopes: Vec<String>,
    pub auth_time: i64,
    pub expires_at: i64,
    pub family: String,
    /// Already exchanged for a newer one: presenting it again is reuse.
    pub rotated: bool,
}

#[derive(Debug, Clone)]
pub struct BrowserSession {
    pub username: String,
    pub auth_time: i64,
    pub expires_at: i64,
}

/// All the live grants of one county IdP.
#[derive(Debug, Default)]
pub struct Grants {
    pub pending: HashMap<String, PendingLogin>,
    pub codes: HashMap<String, CodeGrant>,
    pub access: HashMap<String, AccessGrant>,
    pub refresh: HashMap<String, RefreshGrant>,
    pub sessions: HashMap<String, BrowserSession>,
}

impl Grants {
    /// Drops everything expired (called on each write).
    pub fn purge(&mut self, now: i64) {
        self.pending.retain(|_, p| p.expires_at > now);
        self.codes
            .retain(|_, c| c.expires_at + USED_CODE_MEMORY > now);
        self.access.retain(|_, a| a.expires_at > now);
        self.refresh.retain(|_, r| r.expires_at > now);
        self.sessions.retain(|_, s| s.expires_at > now);
    }

    /// Revokes every access and refresh token of a family.
    pub fn revoke_family(&mut self, family: &str) {
        self.access.retain(|_, a| a.family != family);
        self.refresh.retain(|_, r| r.family != family);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_only_moves_forward() {
        let c = Clock::default();
        let t0 = c.now();
        c.advance(100);
        assert!(c.now() >= t0 + 100);
        c.advance(-1000);
        assert!(c.now() >= t0 + 100);
    }

    #[test]
    fn secrets_are_random_and_keys_hide_them() {
        let a = random_secret();
        let b = random_secret();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_ne!(key_of(&a), a);
        assert_eq!(key_of(&a), key_of(&a));
    }

    #[test]
    fn revoking_a_family_keeps_the_others() {
        let mut g = Grants::default();
        for (k, fam) in [("a", "f1"), ("b", "f2")] {
            g.access.insert(
                k.into(),
                AccessGrant {
                    username: "u".into(),
                    client_id: "c".into(),
                    scopes: vec![],
                    expires_at: i64::MAX,
                    family: fam.into(),
                },
            );
        }
        g.revoke_family("f1");
        assert!(!g.access.contains_key("a"));
        assert!(g.access.contains_key("b"));
    }
}
