//! The stable error codes the county sign-in produces (`signin.*`), as
//! typed constants: the oidc code makes and matches them by name, never by
//! a string literal. The UI catalogs hold words for each (`error.<code>`);
//! [`ALL`] lists them for the tests that keep the catalogs in step.

pub const BAD_RESPONSE: &str = "signin.bad_response";
pub const BAD_TOKEN_RESPONSE: &str = "signin.bad_token_response";
pub const DISCOVERY_ISSUER_MISMATCH: &str = "signin.discovery_issuer_mismatch";
pub const ID_TOKEN_AT_HASH: &str = "signin.id_token_at_hash";
pub const ID_TOKEN_AUDIENCE: &str = "signin.id_token_audience";
pub const ID_TOKEN_EXPIRED: &str = "signin.id_token_expired";
pub const ID_TOKEN_IAT: &str = "signin.id_token_iat";
pub const ID_TOKEN_INVALID: &str = "signin.id_token_invalid";
pub const ID_TOKEN_ISSUER: &str = "signin.id_token_issuer";
pub const ID_TOKEN_MISSING: &str = "signin.id_token_missing";
pub const ID_TOKEN_NONCE: &str = "signin.id_token_nonce";
pub const ID_TOKEN_SIGNATURE: &str = "signin.id_token_signature";
pub const ID_TOKEN_SUBJECT: &str = "signin.id_token_subject";
pub const ID_TOKEN_UNSUPPORTED: &str = "signin.id_token_unsupported";
pub const INSECURE_ENDPOINT: &str = "signin.insecure_endpoint";
pub const ISS_MISMATCH: &str = "signin.iss_mismatch";
pub const ISS_MISSING: &str = "signin.iss_missing";
pub const JWKS_EMPTY: &str = "signin.jwks_empty";
pub const LOOPBACK_UNAVAILABLE: &str = "signin.loopback_unavailable";
pub const REDIRECT_REFUSED: &str = "signin.redirect_refused";
pub const STATE_MISMATCH: &str = "signin.state_mismatch";
pub const USERINFO_INVALID: &str = "signin.userinfo_invalid";
pub const USERINFO_SUB_MISMATCH: &str = "signin.userinfo_sub_mismatch";
/// Shared device: the county did not ask for the login again
/// (`auth_time` missing or older than the request).
pub const NOT_REAUTHENTICATED: &str = "signin.not_reauthenticated";
/// The computer's clock is too far from the county's.
pub const CLOCK_SKEWED: &str = "clock.skewed";
/// Errors with their own `CoreError` variant (the codes `error.rs` gives
/// them; named here for the oidc code that matches on them).
pub const CANCELLED: &str = "signin.cancelled";
pub const TIMED_OUT: &str = "signin.timed_out";
pub const PENDING: &str = "signin.pending";
/// An IdP `error` answer: `access_denied`, `login_required` /
/// `interaction_required`, anything else.
pub const ACCESS_DENIED: &str = "signin.access_denied";
pub const LOGIN_REQUIRED: &str = "signin.login_required";
pub const IDP_ERROR: &str = "signin.idp_error";

/// Every code above.
pub const ALL: &[&str] = &[
    BAD_RESPONSE,
    BAD_TOKEN_RESPONSE,
    DISCOVERY_ISSUER_MISMATCH,
    ID_TOKEN_AT_HASH,
    ID_TOKEN_AUDIENCE,
    ID_TOKEN_EXPIRED,
    ID_TOKEN_IAT,
    ID_TOKEN_INVALID,
    ID_TOKEN_ISSUER,
    ID_TOKEN_MISSING,
    ID_TOKEN_NONCE,
    ID_TOKEN_SIGNATURE,
    ID_TOKEN_SUBJECT,
    ID_TOKEN_UNSUPPORTED,
    INSECURE_ENDPOINT,
    ISS_MISMATCH,
    ISS_MISSING,
    JWKS_EMPTY,
    LOOPBACK_UNAVAILABLE,
    REDIRECT_REFUSED,
    STATE_MISMATCH,
    USERINFO_INVALID,
    USERINFO_SUB_MISMATCH,
    NOT_REAUTHENTICATED,
    CLOCK_SKEWED,
    CANCELLED,
    TIMED_OUT,
    PENDING,
    ACCESS_DENIED,
    LOGIN_REQUIRED,
    IDP_ERROR,
];

#[cfg(test)]
mod tests {
    /// The variant codes named here are the ones `error.rs` gives.
    #[test]
    fn variant_codes_match_the_error_type() {
        use crate::CoreError;
        let idp = |e: &str| CoreError::IdpError {
            error: e.into(),
            description: None,
        };
        assert_eq!(CoreError::Cancelled.code(), super::CANCELLED);
        assert_eq!(CoreError::TimedOut.code(), super::TIMED_OUT);
        assert_eq!(CoreError::SignInPending.code(), super::PENDING);
        assert_eq!(idp("access_denied").code(), super::ACCESS_DENIED);
        assert_eq!(idp("interaction_required").code(), super::LOGIN_REQUIRED);
        assert_eq!(idp("server_error").code(), super::IDP_ERROR);
    }

    #[test]
    fn every_code_has_words_in_both_catalogs() {
        for catalog in [
            include_str!("../../../../ui/i18n/zh-TW.json"),
            include_str!("../../../../ui/i18n/en.json"),
        ] {
            let map: serde_json::Value = serde_json::from_str(catalog).unwrap();
            for code in super::ALL {
                assert!(
                    map.get(format!("error.{code}")).is_some(),
                    "no words for {code}"
                );
            }
        }
    }
}
