//! The metadata cache: discovery documents and JWKS in the store's
//! `cache` table, with lifetimes from the provider's `Cache-Control`.

use std::time::Duration;

use crate::store::Store;

/// How long a discovery (or RFC 8414) document is cached without a
/// `Cache-Control: max-age`.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// How long a JWKS is cached without a `Cache-Control: max-age`.
pub const JWKS_TTL: Duration = Duration::from_secs(600);
/// The longest a provider's `max-age` is honoured.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(24 * 3600);

/// Discovery documents and JWKS in the store's `cache` table. Keys:
/// `oidc:discovery:{issuer}`, `oauth:metadata:{issuer}` (the Taipei
/// profile's RFC 8414 document) and `oidc:jwks:{jwks_uri}`. Values are the
/// documents exactly as received; a store failure only costs a fetch.
#[derive(Clone, Copy)]
pub(crate) struct MetadataCache<'a> {
    store: &'a Store,
    /// Whether fresh entries are used (the health check fetches anyway and
    /// only writes what it fetched).
    read: bool,
}

impl<'a> MetadataCache<'a> {
    /// Uses fresh entries and writes what it fetches.
    pub fn new(store: &'a Store) -> Self {
        MetadataCache { store, read: true }
    }

    /// Always fetches; writes what it fetched.
    pub fn refreshing(store: &'a Store) -> Self {
        MetadataCache { store, read: false }
    }

    pub(crate) fn get(&self, key: &str) -> Option<String> {
        if !self.read {
            return None;
        }
        match self.store.cached(key) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, key, "the metadata cache could not be read");
                None
            }
        }
    }

    pub(crate) fn put(&self, key: &str, body: &[u8], ttl: Option<Duration>) {
        let Some(ttl) = ttl else {
            // The provider said not to keep it: drop what an earlier answer left.
            self.forget(key);
            return;
        };
        let Ok(text) = std::str::from_utf8(body) else {
            return;
        };
        let secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        if let Err(e) = self.store.put_cached(key, text, secs) {
            tracing::warn!(error = %e, key, "the metadata cache could not be written");
        }
    }

    pub(crate) fn forget(&self, key: &str) {
        if let Err(e) = self.store.drop_cached(key) {
            tracing::warn!(error = %e, key, "a cached document could not be dropped");
        }
    }
}

pub(crate) fn discovery_key(issuer: &str) -> String {
    format!("oidc:discovery:{issuer}")
}

pub(crate) fn oauth_metadata_key(issuer: &str) -> String {
    format!("oauth:metadata:{issuer}")
}

pub(crate) fn jwks_key(jwks_uri: &str) -> String {
    format!("oidc:jwks:{jwks_uri}")
}

/// How long a response may be cached (RFC 9111 §5.2.2): `None` for
/// `no-store`, `no-cache`, `max-age=0` or a malformed `max-age` (treated as
/// stale); `max-age` capped at [`MAX_CACHE_TTL`]; `default` without one.
pub(crate) fn cache_ttl(cache_control: Option<&str>, default: Duration) -> Option<Duration> {
    let Some(header) = cache_control else {
        return Some(default);
    };
    let mut max_age = None;
    for directive in header.split(',') {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return None;
        }
        if name.eq_ignore_ascii_case("max-age") {
            max_age = Some(value.and_then(|v| v.parse::<u64>().ok())?);
        }
    }
    match max_age {
        Some(0) => None,
        Some(secs) => Some(Duration::from_secs(secs).min(MAX_CACHE_TTL)),
        None => Some(default),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_lifetimes_follow_cache_control() {
        let hour = Duration::from_secs(3600);
        assert_eq!(cache_ttl(None, hour), Some(hour));
        assert_eq!(cache_ttl(Some("public"), hour), Some(hour));
        assert_eq!(
            cache_ttl(Some("public, max-age=120"), hour),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            cache_ttl(Some("Max-Age=\"60\""), hour),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            cache_ttl(Some("max-age=99999999"), hour),
            Some(MAX_CACHE_TTL)
        );
        for refused in [
            "no-store",
            "no-cache",
            "max-age=0",
            "max-age=60, no-store",
            "max-age=soon",
            "max-age=-5",
            "max-age",
        ] {
            assert_eq!(cache_ttl(Some(refused), hour), None, "{refused}");
        }
    }
}
