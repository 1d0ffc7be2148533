//! County Open ID sign-in: the RFC 8252 native-app flow through the
//! **system browser** and a loopback redirect.
//!
//! ```text
//! start_county_sign_in(desktop, idp, gate, options)
//!   → discovery + JWKS (checked)          [provider]
//!   → bind 127.0.0.1:0 /callback/{county} [loopback]
//!   → authorize URL (code, PKCE S256, state, nonce, scopes;
//!     shared devices: prompt=login, max_age=0)
//!   → open the system browser (failure is not fatal: copy/reopen)
//!   = PendingSignIn { authorize_url, … }
//! pending.wait(desktop).await
//!   → the redirect: a GET carrying this sign-in's state (anything else on
//!     the port gets a 400 page and the wait goes on)   [loopback]
//!   → iss (RFC 9207), error → code exchange           [provider]
//!     → ID token (at_hash when present; shared devices: a fresh auth_time;
//!       a wrong clock named as such) / UserInfo / profile resources
//!                                                     [verify, claims]
//!   → the browser is answered with a localized page, the port closed
//!   = VerifiedCounty { identity, credential }
//! ```
//!
//! Every answer of the county is read with a size cap ([`crate::net`]'s
//! `read_limited`); values it sent are quoted or escaped before they reach
//! an error detail or a log line.
//!
//! Discovery documents and JWKS are cached in the store (see [`provider`]'s
//! docs); a sign-in that fails after the redirect drops them, so the next
//! attempt starts from fresh metadata.
//!
//! What of the county stays in memory: nothing after a sign-in that reached
//! an Education Cloud session. The county access token lives only inside
//! the code redemption (UserInfo / eduinfo) for the OIDC profiles; the
//! credential handed to Education Cloud (ID token, or Taipei's access
//! token) is dropped with the [`VerifiedCounty`] unless a registration is
//! pending, and then [`revoke_county_credential`] revokes a Taipei access
//! token (RFC 7009) when the session discards it. No county refresh token
//! is ever requested (no `offline_access`).
//!
//! One sign-in at a time per [`SignInGate`] (`signin.pending`); cancel
//! ([`SignInCancel`], `signin.cancelled`) and a timeout (default 5 minutes,
//! `signin.timed_out`) end the wait cleanly. Security checks are listed in
//! [`provider`]'s docs; each rejection is a [`CoreError::SignInRejected`]
//! with a stable `signin.*` code.

mod cache;
pub(crate) mod claims;
pub mod code;
pub(crate) mod discovery;
mod gate;
mod health;
mod http;
mod loopback;
pub mod page;
mod provider;
mod revoke;
mod start;
mod taipei;
mod types;
mod verify;
mod wait;

use std::time::{Duration, Instant};

use secrecy::SecretString;
use serde::Serialize;
use url::Url;

pub use cache::{DISCOVERY_TTL, JWKS_TTL, MAX_CACHE_TTL};
pub use gate::{SignInCancel, SignInGate};
pub use health::{check_county, test_county_sign_in, CountyHealth};
pub use loopback::LoopbackRedirect;
pub use revoke::{revoke_county_credential, CountyRevocation};
pub use start::{
    start_county_sign_in, NoProgress, SignInOptions, SignInProgress, WaitingForBrowser,
};
pub use verify::{ALLOWED_ALGS, AUTH_TIME_SLACK, CLOCK_LEEWAY, IAT_MAX_AGE, IAT_SKEW};
pub use wait::PendingSignIn;

use crate::CoreError;
use cache::MetadataCache;
use provider::Provider;

/// How long the app waits for the browser by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5 * 60);

/// Who the county says the user is (normalized over the profiles). No
/// secrets: safe to show, log at debug level and send to the UI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountyIdentity {
    pub county: String,
    /// The county's subject (pairwise for Kaohsiung, `uuid` for Taipei).
    pub sub: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub preferred_username: Option<String>,
    pub school_id: Option<String>,
    pub school_name: Option<String>,
    /// 教師 / 職員 / 學生 …
    pub role: Option<String>,
    /// 專任教師 …
    pub title: Option<String>,
}

/// The county credential Education Cloud exchanges for a session (or takes
/// with a registration): the ID token, or for the Taipei profile the access
/// token. Kept in memory only.
#[derive(Debug, Clone)]
pub enum CountyCredential {
    IdToken(SecretString),
    AccessToken(SecretString),
}

/// A finished county sign-in.
#[derive(Debug, Clone)]
pub struct VerifiedCounty {
    pub identity: CountyIdentity,
    pub credential: CountyCredential,
    /// The county's RP-initiated logout endpoint, when it has one.
    pub end_session_endpoint: Option<Url>,
    /// How to revoke the credential (RFC 7009), when the county's metadata
    /// has a `revocation_endpoint`.
    pub revocation: Option<CountyRevocation>,
    /// Time from the redirect arriving to everything verified (the browser
    /// answered and the loopback port closed).
    pub redirect_to_verified: Duration,
    /// When the county's redirect arrived on the loopback port (the start
    /// of the sign-in's local overhead).
    pub redirect_received_at: Instant,
    /// Where part of that time went.
    pub timings: VerifyTimings,
}

/// The county parts of a sign-in's local overhead (numbers only).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct VerifyTimings {
    /// The token endpoint round trip: the code and the PKCE verifier
    /// redeemed for the county's tokens.
    pub code_exchange: Duration,
    /// Everything the county's answer needs before it is trusted: the ID
    /// token's signature and claims (nonce, iss, aud/azp, iat, exp; the
    /// JWKS fetched again only for an unknown key) and `at_hash`, then the
    /// identity calls of the profile (UserInfo, and eduinfo for sso.edu.tw;
    /// `/api/user` and `/api/profile` for the Taipei profile).
    pub verification: Duration,
}

/// Milliseconds (to 10 µs), for the timing log lines.
pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64 / 1000.0 * 100.0).round() / 100.0
}

pub(crate) fn rejected(code: &'static str, detail: impl Into<String>) -> CoreError {
    CoreError::SignInRejected {
        code,
        detail: detail.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_do_not_print() {
        let c = CountyCredential::IdToken(SecretString::from("eyJ.secret".to_string()));
        assert!(!format!("{c:?}").contains("eyJ"));
    }
}
