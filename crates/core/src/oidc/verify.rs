//! ID-token verification: signature against the JWKS (asymmetric
//! algorithms only, one refetch on an unknown key), the claims, `azp`,
//! `sub` and `at_hash`.

use std::time::Duration;

use chrono::Utc;
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

/// Tolerated clock difference for `iat`.
pub const IAT_SKEW: Duration = Duration::from_secs(120);
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

impl Provider {
    /// Verifies the ID token; on an unknown key fetches the JWKS once more
    /// (key rotation; the cache is updated) and tries again. `at_hash`, when
    /// present, must match `access`.
    pub async fn verify_id_token(
        &mut self,
        id_token: &EduIdToken,
        nonce: &Nonce,
        access: &AccessToken,
        cache: MetadataCache<'_>,
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
        let claims = result.map_err(claims_error)?;
        let client_id = self.idp.client_id.as_str();
        match claims.authorized_party() {
            Some(azp) if azp.as_str() != client_id => {
                return Err(rejected(
                    code::ID_TOKEN_AUDIENCE,
                    format!("azp is {} (expected {client_id})", azp.as_str()),
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
    fn only_asymmetric_algorithms_are_allowed() {
        assert!(!ALLOWED_ALGS.contains(&CoreJwsSigningAlgorithm::HmacSha256));
        assert!(!ALLOWED_ALGS.contains(&CoreJwsSigningAlgorithm::None));
        assert!(ALLOWED_ALGS.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256));
    }
}
