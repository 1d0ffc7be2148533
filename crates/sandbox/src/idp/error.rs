//! Errors of the county IdPs: [`IdpError`] for the Rust API the Education
//! Cloud half calls, and [`OAuthError`] for RFC 6749 / RFC 6750 error
//! responses on the wire.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

/// What went wrong when the sandbox's Education Cloud asked the IdP registry
/// about a county token. Each variant has a stable machine [`code`](Self::code)
/// that lines up with the API's problem codes where one exists.
#[derive(Debug, thiserror::Error)]
pub enum IdpError {
    /// No county IdP with that code.
    #[error("unknown county `{0}`")]
    UnknownCounty(String),
    /// The county's profile does not issue this kind of token (e.g. an ID
    /// token from the Taipei profile, which has none).
    #[error("county `{county}` does not issue {what}")]
    WrongProfile { county: String, what: &'static str },
    /// Signature, issuer, audience, shape or lookup failed.
    #[error("token rejected: {0}")]
    TokenInvalid(String),
    /// The token was valid but its lifetime is over.
    #[error("token expired")]
    TokenExpired,
    /// Keys could not be generated, loaded or stored.
    #[error("signing keys: {0}")]
    Keys(String),
}

impl IdpError {
    /// Stable machine code (`area.reason`).
    pub fn code(&self) -> &'static str {
        match self {
            IdpError::UnknownCounty(_) => "idp.unknown_county",
            IdpError::WrongProfile { .. } => "idp.wrong_profile",
            IdpError::TokenInvalid(_) => "token.invalid",
            IdpError::TokenExpired => "token.expired",
            IdpError::Keys(_) => "idp.keys",
        }
    }
}

/// An OAuth 2.0 error response (RFC 6749 §5.2, RFC 6750 §3, RFC 7009).
#[derive(Debug, Clone)]
pub struct OAuthError {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    /// Set `WWW-Authenticate` (Bearer for resources, Basic for clients).
    pub challenge: Option<String>,
}

impl OAuthError {
    pub fn new(status: StatusCode, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            challenge: None,
        }
    }

    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", description)
    }

    pub fn invalid_grant(description: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_grant", description)
    }

    pub fn invalid_client(description: impl Into<String>, basic: bool) -> Self {
        let mut e = Self::new(StatusCode::UNAUTHORIZED, "invalid_client", description);
        if basic {
            e.challenge = Some("Basic realm=\"educloud-sandbox\"".into());
        }
        e
    }

    /// RFC 6750 §3.1 `invalid_token` (401 with a Bearer challenge).
    pub fn invalid_token(description: impl Into<String>) -> Self {
        let description = description.into();
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            description.clone(),
        );
        e.challenge = Some(format!(
            "Bearer realm=\"educloud-sandbox\", error=\"invalid_token\", error_description=\"{}\"",
            description.replace(['"', '\\'], "'")
        ));
        e
    }

    /// RFC 6750 §3: no credentials at all → 401 with a bare challenge.
    pub fn missing_token() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "invalid_request",
            "a Bearer access token is required in the Authorization header",
        );
        e.challenge = Some("Bearer realm=\"educloud-sandbox\"".into());
        e
    }

    pub fn insufficient_scope(scope: &str) -> Self {
        let mut e = Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("the access token lacks scope `{scope}`"),
        );
        e.challenge = Some(format!(
            "Bearer realm=\"educloud-sandbox\", error=\"insufficient_scope\", scope=\"{scope}\""
        ));
        e
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "error": self.error,
            "error_description": self.description,
        });
        let mut res = (self.status, Json(body)).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let Some(challenge) = self.challenge {
            if let Ok(v) = HeaderValue::from_str(&challenge) {
                headers.insert(header::WWW_AUTHENTICATE, v);
            }
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(IdpError::TokenExpired.code(), "token.expired");
        assert_eq!(IdpError::TokenInvalid("x".into()).code(), "token.invalid");
        assert_eq!(
            IdpError::UnknownCounty("zz".into()).code(),
            "idp.unknown_county"
        );
    }

    #[test]
    fn bearer_challenge_is_a_valid_header() {
        let res = OAuthError::invalid_token("bad \"quoted\" token").into_response();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        let h = res.headers()[header::WWW_AUTHENTICATE].to_str().unwrap();
        assert!(h.starts_with("Bearer "));
        assert!(h.contains("invalid_token"));
    }
}
