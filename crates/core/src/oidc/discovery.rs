//! OpenID discovery and the JWKS: fetched (or taken from the cache) and
//! checked — the issuer is the configured one, every endpoint https (or
//! loopback), the JWKS served as JSON.

use openidconnect::JsonWebKeySetUrl;
use url::Url;

use super::cache::{discovery_key, jwks_key, MetadataCache, DISCOVERY_TTL, JWKS_TTL};
use super::http::{fetch_json, IdpHttp};
use super::types::{EduJwks, EduProviderMetadata};
use super::{code, rejected};
use crate::api::is_secure_url;
use crate::directory::CountyIdp;
use crate::net::limits;
use crate::{CoreError, Result};

pub(crate) fn base(issuer: &str) -> &str {
    issuer.trim_end_matches('/')
}

pub(crate) fn check_endpoint(what: &str, url: &str) -> Result<()> {
    let parsed = Url::parse(url)
        .map_err(|e| rejected(code::INSECURE_ENDPOINT, format!("{what} {url:?}: {e}")))?;
    if !is_secure_url(&parsed) {
        return Err(rejected(
            code::INSECURE_ENDPOINT,
            format!("{what} {url:?} is not https"),
        ));
    }
    Ok(())
}

/// Parses a discovery document and checks it as if just fetched: the
/// issuer is the configured one, every endpoint https (or loopback).
pub(crate) fn parse_discovery(
    idp: &CountyIdp,
    body: &[u8],
    what: &str,
) -> Result<EduProviderMetadata> {
    let metadata: EduProviderMetadata =
        serde_json::from_slice(body).map_err(|e| CoreError::BadResponse {
            what: what.to_string(),
            detail: format!("discovery document: {e}"),
        })?;
    if metadata.issuer().as_str() != idp.issuer {
        return Err(rejected(
            code::DISCOVERY_ISSUER_MISMATCH,
            format!(
                "the discovery document names issuer {:?} (configured: {:?})",
                metadata.issuer().as_str(),
                idp.issuer
            ),
        ));
    }
    check_endpoint(
        "authorization_endpoint",
        metadata.authorization_endpoint().as_str(),
    )?;
    if let Some(t) = metadata.token_endpoint() {
        check_endpoint("token_endpoint", t.as_str())?;
    } else {
        return Err(CoreError::BadResponse {
            what: what.to_string(),
            detail: "the discovery document has no token_endpoint".into(),
        });
    }
    if let Some(u) = metadata.userinfo_endpoint() {
        check_endpoint("userinfo_endpoint", u.as_str())?;
    }
    check_endpoint("jwks_uri", metadata.jwks_uri().as_str())?;
    let extra = metadata.additional_metadata();
    for (name, value) in [
        ("end_session_endpoint", &extra.end_session_endpoint),
        ("revocation_endpoint", &extra.revocation_endpoint),
    ] {
        if let Some(v) = value {
            check_endpoint(name, v)?;
        }
    }
    Ok(metadata)
}

/// OpenID discovery with the checks openidconnect's `discover_async` does
/// not do before fetching the JWKS (every endpoint https or loopback); the
/// document and the JWKS come from `cache` while fresh.
pub(crate) async fn discover(
    idp: &CountyIdp,
    http: &IdpHttp,
    what: &str,
    cache: MetadataCache<'_>,
) -> Result<EduProviderMetadata> {
    let key = discovery_key(&idp.issuer);
    let cached = cache
        .get(&key)
        .and_then(|text| match parse_discovery(idp, text.as_bytes(), what) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(code = e.code(), issuer = ?idp.issuer, "discarding a cached discovery document");
                cache.forget(&key);
                None
            }
        });
    let metadata = match cached {
        Some(m) => {
            tracing::debug!(issuer = ?idp.issuer, "discovery document from the cache");
            m
        }
        None => {
            let url = format!("{}/.well-known/openid-configuration", base(&idp.issuer));
            let fetched = fetch_json(
                &http.limited(limits::DISCOVERY, "the county's discovery document"),
                &url,
                what,
                DISCOVERY_TTL,
            )
            .await?;
            let m = parse_discovery(idp, &fetched.body, what)?;
            cache.put(&key, &fetched.body, fetched.ttl);
            m
        }
    };
    let jwks = load_jwks(metadata.jwks_uri(), http, what, cache).await?;
    Ok(metadata.set_jwks(jwks))
}

pub(crate) fn parse_jwks(body: &[u8], what: &str) -> Result<EduJwks> {
    serde_json::from_slice(body).map_err(|e| CoreError::BadResponse {
        what: what.to_string(),
        detail: format!("JWKS: {e}"),
    })
}

/// The JWKS from `cache` while fresh, else fetched.
pub(crate) async fn load_jwks(
    uri: &JsonWebKeySetUrl,
    http: &IdpHttp,
    what: &str,
    cache: MetadataCache<'_>,
) -> Result<EduJwks> {
    let key = jwks_key(uri.as_str());
    if let Some(text) = cache.get(&key) {
        match parse_jwks(text.as_bytes(), what) {
            Ok(jwks) => {
                tracing::debug!(jwks_uri = ?uri.as_str(), "JWKS from the cache");
                return Ok(jwks);
            }
            Err(e) => {
                tracing::warn!(error = ?e.to_string(), "discarding a cached JWKS");
                cache.forget(&key);
            }
        }
    }
    fetch_jwks(uri, http, what, cache).await
}

/// Fetches the JWKS (`application/json` or `application/jwk-set+json`, as
/// openidconnect's own fetch demands) and caches it.
pub(crate) async fn fetch_jwks(
    uri: &JsonWebKeySetUrl,
    http: &IdpHttp,
    what: &str,
    cache: MetadataCache<'_>,
) -> Result<EduJwks> {
    let fetched = fetch_json(
        &http.limited(limits::JWKS, "the county's signing keys (JWKS)"),
        uri.as_str(),
        what,
        JWKS_TTL,
    )
    .await?;
    if let Some(ct) = &fetched.content_type {
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json")
            && !essence.eq_ignore_ascii_case("application/jwk-set+json")
        {
            return Err(CoreError::BadResponse {
                what: what.to_string(),
                detail: format!("JWKS: unexpected Content-Type {ct:?}"),
            });
        }
    }
    let jwks = parse_jwks(&fetched.body, what)?;
    cache.put(&jwks_key(uri.as_str()), &fetched.body, fetched.ttl);
    Ok(jwks)
}
