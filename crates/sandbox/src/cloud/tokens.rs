//! Opaque random tokens, their SHA-256 digests (the only form stored), and
//! the cloud's clock (shiftable by tests through the sandbox admin API).

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::RngCore;
use sha2::{Digest, Sha256};

/// A fresh 256-bit token, base64url without padding (43 characters).
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// SHA-256 of a token: what the database keeps instead of the token.
pub(crate) fn digest(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Seconds since the Unix epoch, plus an offset tests may advance (to reach
/// the 24 h activation expiry without waiting a day).
#[derive(Debug, Default)]
pub struct Clock {
    offset: AtomicI64,
}

impl Clock {
    pub fn now(&self) -> i64 {
        let real = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
        real.saturating_add(self.offset.load(Ordering::Relaxed))
    }

    /// Moves the clock forward by `seconds` (never backwards).
    pub fn advance(&self, seconds: u32) {
        self.offset.fetch_add(i64::from(seconds), Ordering::Relaxed);
    }
}

/// RFC 3339 (UTC) for a Unix time.
pub(crate) fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_unique_and_digests_fixed_length() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(digest(&a).len(), 32);
        assert_ne!(digest(&a), digest(&b));
    }

    #[test]
    fn clock_advances() {
        let c = Clock::default();
        let before = c.now();
        c.advance(86_400);
        assert!(c.now() >= before + 86_400);
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
