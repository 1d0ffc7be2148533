//! The local overhead of a county sign-in, part by part (issue 7).

use std::time::Duration;

use super::{lock, SessionState};

/// Where the local overhead of a county sign-in went: from the county's
/// redirect arriving on the loopback port to signed in (issue 7's
/// "sign-in local overhead"). Numbers only, never a secret; logged at info
/// level and kept for [`SessionState::last_sign_in_timings`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignInTimings {
    /// The county's token endpoint: the code and the PKCE verifier
    /// redeemed for the county's tokens (one round trip).
    pub code_exchange: Duration,
    /// The county's answer verified: the ID token's signature and claims and
    /// `at_hash`, then the identity calls the profile needs (UserInfo and
    /// eduinfo for sso.edu.tw; `/api/user` and `/api/profile` for Taipei) —
    /// see [`oidc::VerifyTimings::verification`].
    pub verification: Duration,
    /// The Education Cloud session: the client set up (service
    /// configuration from the store's cache) and `POST sessions` with the
    /// county credential (one round trip).
    pub cloud_session: Duration,
    /// 保持登入狀態: the refresh token written to the OS keychain (zero
    /// without it; a stale entry deleted, when there was one).
    pub keychain_write: Duration,
    /// SQLite: the known account and the sign-in history row (each its own
    /// committed transaction).
    pub store_write: Duration,
    /// Redirect arriving → signed in: the parts plus [`other`](Self::other).
    pub total: Duration,
}

impl SignInTimings {
    /// What the parts leave out: the `state` / `iss` checks, the browser's
    /// page answered, the loopback port closed, the session put in place.
    pub fn other(&self) -> Duration {
        self.total.saturating_sub(
            self.code_exchange
                + self.verification
                + self.cloud_session
                + self.keychain_write
                + self.store_write,
        )
    }
}

impl SessionState {
    /// Time from the county's redirect to signed in, of the last county
    /// sign-in (the local overhead; `None` when it did not sign in).
    pub fn last_redirect_to_signed_in(&self) -> Option<Duration> {
        self.last_sign_in_timings().map(|t| t.total)
    }

    /// The local overhead of the last county sign-in, part by part (`None`
    /// when it did not sign in).
    pub fn last_sign_in_timings(&self) -> Option<SignInTimings> {
        *lock(&self.last_timings)
    }
}
