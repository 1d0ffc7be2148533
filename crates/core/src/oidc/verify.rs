//! ID-token verification: signature against the JWKS (asymmetric
//! algorithms only, one refetch on an unknown key), the claims, `azp`,
//! `sub` and `at_hash`; on shared devices a fresh login (`auth_time`); and
//! a wrong computer clock told apart from a bad token.
//!
//! **Clocks.** `exp` and a future `iat` are accepted within
//! [`CLOCK_LEEWAY`] (5 minutes), so a PC clock minutes off still signs in.
//! When a time check fails, the app compares its clock with the county's:
//! the token response's `Date` header when there is one, else the ID
//! token's own `iat` (already signature-checked by then: openidconnect
//! checks the signature before the times). More than [`CLOCK_LEEWAY`]
//! apart → `clock.skewed` (words that name the computer's clock), else the
//! token error (`signin.id_token_expired` / `signin.id_token_iat`).
//!
//! **Fresh login (shared devices).** The request carries `prompt=login`
//! and `max_age=0`; the ID token must carry `auth_time`, and it must not be
//! older than the request. Both `auth_time` and `iat` are on the county's
//! clock, so the check needs no clock agreement: `auth_time ≥ iat −
//! (request → token answer, measured on the monotonic clock) −`
//! [`AUTH_TIME_SLACK`]. A county (or a browser session) that skipped the
//! login form → `signin.not_reauthenticated`.

use std::time::Duration;

use base64::Engine;
use chrono::{DateTime, Utc};
use openidconnect::core::CoreJwsSigningAlgorithm;
use openidconnect::{
    AccessToken, AccessTokenHash, ClaimsVerificationError, Nonce, SignatureVerificationError,
};

use super::cache::MetadataCache;
use super::discovery::fetch_jwks;
use super::http::chain;
use super::provider::Provider;
use super::types::{EduIdToken, EduIdTokenClaims};
use super::{code, rejected};
use crate::{CoreError, Result};

/// How far the computer's clock may be from the county's and still sign
/// in: `exp` is accepted up to this long after it passed, `iat` up to this
/// far in the future.
pub const CLOCK_LEEWAY: Duration = Duration::from_secs(5 * 60);
/// Tolerated clock difference for `iat` in the future ([`CLOCK_LEEWAY`]).
pub const IAT_SKEW: Duration = CLOCK_LEEWAY;
/// Rounding and transfer time allowed on the fresh-login check
/// (`auth_time` and `iat` are whole seconds).
pub const AUTH_TIME_SLACK: Duration = Duration::from_secs(5);
/// The oldest `iat` accepted.
pub const IAT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Signature algorithms an ID token may use: asymmetric only.
pub const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// What the time checks of one ID token need to know.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct TokenTimes {
    /// The county's clock minus the computer's, from the token response's
    /// `Date` header (whole seconds), when it had one.
    pub date_skew: Option<i64>,
    /// Shared device: the time from sending the browser to the county to
    /// the token answer (the ID token must show a login inside it).
    pub fresh_login_within: Option<Duration>,
}

/// `clock.skewed` when the computer's clock is more than [`CLOCK_LEEWAY`]
/// from the county's (`skew` = county − computer, seconds).
fn clock_skewed(skew: i64, source: &str) -> Option<CoreError> {
    let leeway = CLOCK_LEEWAY.as_secs() as i64;
    if skew.abs() <= leeway {
        return None;
    }
    let minutes = skew.abs() / 60;
    let direction = if skew < 0 { "ahead of" } else { "behind" };
    Some(rejected(
        code::CLOCK_SKEWED,
        format!("this computer's clock is about {minutes} minutes {direction} the county's (from {source})"),
    ))
}

/// The `iat` of an ID token whose signature was already verified (read
/// only to explain a failed time check).
fn verified_iat(id_token: &EduIdToken) -> Option<i64> {
    let jwt = id_token.to_string();
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iat")?.as_i64()
}

impl Provider {
    /// Verifies the ID token; on an unknown key fetches the JWKS once more
    /// (key rotation; the cache is updated) and tries again. `at_hash`, when
    /// present, must match `access`. A failed time check becomes
    /// `clock.skewed` when the computer's clock is the reason; on shared
    /// devices the login must be fresh (see the module docs).
    pub async fn verify_id_token(
        &mut self,
        id_token: &EduIdToken,
        nonce: &Nonce,
        access: &AccessToken,
        cache: MetadataCache<'_>,
        times: TokenTimes,
    ) -> Result<EduIdTokenClaims> {
        let first = self.verify_with_current_keys(id_token, nonce);
        let result = match first {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                tracing::info!(county = %self.idp.code, "unknown signing key: fetching the JWKS once more");
                let jwks =
                    fetch_jwks(self.metadata.jwks_uri(), &self.http, &self.what, cache).await?;
                self.metadata = self.metadata.clone().set_jwks(jwks);
                self.verify_with_current_keys(id_token, nonce)
            }
            other => other,
        };
        let claims = match result {
            Ok(claims) => claims,
            Err(e @ ClaimsVerificationError::Expired(_)) => {
                let skewed = match times.date_skew {
                    Some(skew) => clock_skewed(skew, "the Date of the county's answer"),
                    None => verified_iat(id_token).and_then(|iat| {
                        clock_skewed(iat - Utc::now().timestamp(), "the ID token's iat")
                    }),
                };
                return Err(skewed.unwrap_or_else(|| claims_error(e)));
            }
            Err(e) => return Err(claims_error(e)),
        };
        if let Some(within) = times.fresh_login_within {
            check_fresh_login(&claims, within)?;
        }
        let client_id = self.idp.client_id.as_str();
        match claims.authorized_party() {
            Some(azp) if azp.as_str() != client_id => {
                return Err(rejected(
                    code::ID_TOKEN_AUDIENCE,
                    format!("azp is {:?} (expected {client_id:?})", azp.as_str()),
                ))
            }
            None if claims.audiences().len() > 1 => {
                return Err(rejected(
                    code::ID_TOKEN_AUDIENCE,
                    "several audiences and no azp",
                ))
            }
            _ => {}
        }
        if claims.subject().as_str().trim().is_empty() {
            return Err(rejected(code::ID_TOKEN_SUBJECT, "empty sub"));
        }
        if let Some(expected) = claims.access_token_hash() {
            self.check_at_hash(id_token, expected, access)?;
        }
        Ok(claims)
    }

    /// OIDC Core §3.1.3.8: the left half of the access token's hash with
    /// the ID token's own algorithm (and key, for EdDSA), base64url.
    pub(crate) fn check_at_hash(
        &self,
        id_token: &EduIdToken,
        expected: &AccessTokenHash,
        access: &AccessToken,
    ) -> Result<()> {
        let client = self.client();
        let verifier = client.id_token_verifier().set_allowed_algs(ALLOWED_ALGS);
        let signature =
            |e: SignatureVerificationError| rejected(code::ID_TOKEN_SIGNATURE, e.to_string());
        let alg = id_token.signing_alg().map_err(signature)?;
        let key = id_token.signing_key(&verifier).map_err(signature)?;
        let actual = AccessTokenHash::from_token(access, alg, key)
            .map_err(|e| rejected(code::ID_TOKEN_AT_HASH, e.to_string()))?;
        if actual != *expected {
            return Err(rejected(
                code::ID_TOKEN_AT_HASH,
                "at_hash does not match the access token",
            ));
        }
        Ok(())
    }

    pub(crate) fn verify_with_current_keys(
        &self,
        id_token: &EduIdToken,
        nonce: &Nonce,
    ) -> std::result::Result<EduIdTokenClaims, ClaimsVerificationError> {
        let client = self.client();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(ALLOWED_ALGS)
            // `exp` within the leeway (openidconnect compares it with this).
            .set_time_fn(|| {
                Utc::now() - chrono::Duration::from_std(CLOCK_LEEWAY).unwrap_or_default()
            })
            .set_issue_time_verifier_fn(|iat| {
                let now = Utc::now();
                let skew = chrono::Duration::from_std(IAT_SKEW).unwrap_or_default();
                let max_age = chrono::Duration::from_std(IAT_MAX_AGE).unwrap_or_default();
                if iat > now + skew {
                    Err(format!("iat_in_future: issued at {iat}, now {now}"))
                } else if iat < now - max_age {
                    Err(format!("iat_too_old: issued at {iat}"))
                } else {
                    Ok(())
                }
            });
        id_token.claims(&verifier, nonce).cloned()
    }
}

/// Shared devices: the ID token shows a login no older than the request.
fn check_fresh_login(claims: &EduIdTokenClaims, within: Duration) -> Result<()> {
    let Some(auth_time) = claims.auth_time() else {
        return Err(rejected(
            code::NOT_REAUTHENTICATED,
            "max_age=0 was sent but the ID token has no auth_time",
        ));
    };
    let earliest: DateTime<Utc> = claims.issue_time()
        - chrono::Duration::from_std(within + AUTH_TIME_SLACK).unwrap_or_default();
    if auth_time < earliest {
        return Err(rejected(
            code::NOT_REAUTHENTICATED,
            format!(
                "the login is {} s older than the request (auth_time {auth_time}, iat {})",
                (earliest - auth_time).num_seconds(),
                claims.issue_time()
            ),
        ));
    }
    Ok(())
}

pub(crate) fn claims_error(e: ClaimsVerificationError) -> CoreError {
    use ClaimsVerificationError as C;
    let detail = chain(&e);
    let code = match &e {
        C::Expired(m) if m.starts_with("iat_") => code::ID_TOKEN_IAT,
        C::Expired(_) => code::ID_TOKEN_EXPIRED,
        C::InvalidAudience(_) => code::ID_TOKEN_AUDIENCE,
        C::InvalidIssuer(_) => code::ID_TOKEN_ISSUER,
        C::InvalidNonce(_) => code::ID_TOKEN_NONCE,
        C::InvalidSubject(_) => code::ID_TOKEN_SUBJECT,
        C::SignatureVerification(_) => code::ID_TOKEN_SIGNATURE,
        C::Unsupported(_) => code::ID_TOKEN_UNSUPPORTED,
        _ => code::ID_TOKEN_INVALID,
    };
    rejected(code, detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_named_only_beyond_the_leeway() {
        assert!(clock_skewed(0, "x").is_none());
        assert!(clock_skewed(4 * 60, "x").is_none());
        assert!(clock_skewed(-(CLOCK_LEEWAY.as_secs() as i64), "x").is_none());
        let detail = |e: CoreError| match e {
            CoreError::SignInRejected { code, detail } => format!("{code}: {detail}"),
            other => panic!("{other:?}"),
        };
        let ahead = detail(clock_skewed(-3 * 3600, "x").unwrap());
        assert!(ahead.starts_with("clock.skewed: "), "{ahead}");
        assert!(ahead.contains("180 minutes ahead"), "{ahead}");
        let behind = detail(clock_skewed(3 * 3600, "x").unwrap());
        assert!(behind.contains("180 minutes behind"), "{behind}");
    }

    /// Without a `Date` header the ID token's own iat tells the clocks
    /// apart (read from the already verified token).
    #[test]
    fn the_iat_of_a_token_is_read_for_the_clock_check() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let part = |v: serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
        let jwt = format!(
            "{}.{}.{}",
            part(serde_json::json!({"alg": "RS256"})),
            part(
                serde_json::json!({"iss": "https://x", "sub": "s", "aud": "c",
                "exp": 2_000_000_000, "iat": 1_700_000_123})
            ),
            URL_SAFE_NO_PAD.encode([1u8; 8])
        );
        let token: EduIdToken = jwt.parse().unwrap();
        assert_eq!(verified_iat(&token), Some(1_700_000_123));
        let skew = verified_iat(&token).unwrap() - Utc::now().timestamp();
        assert_eq!(clock_skewed(skew, "iat").unwrap().code(), "clock.skewed");
    }

    #[test]
    fn only_asymmetric_algorithms_are_allowed() {
        assert!(!ALLOWED_ALGS.contains(&CoreJwsSigningAlgorithm::HmacSha256));
        assert!(!ALLOWED_ALGS.contains(&CoreJwsSigningAlgorithm::None));
        assert!(ALLOWED_ALGS.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256));
    }
}
