//! [`PendingSignIn`]: the wait for the browser's redirect (cancel,
//! timeout), the checks on the authorization response (state, iss, error)
//! and the code redemption, and the page the browser is answered with.

use std::sync::Arc;
use std::time::{Duration, Instant};

use secrecy::SecretString;
use sha2::{Digest, Sha256};
use tracing::Instrument;
use url::Url;

use super::gate::{GateGuard, SignInCancel};
use super::loopback::{self, LoopbackRedirect};
use super::page::PageOutcome;
use super::provider::{Provider, Redeemed};
use super::start::{NoProgress, SignInProgress, WaitingForBrowser};
use super::{code, ms, rejected, CountyRevocation, MetadataCache, VerifiedCounty};
use crate::browser::BrowserOpener;
use crate::desktop::Desktop;
use crate::{CoreError, Result};

/// A county sign-in waiting for the browser.
pub struct PendingSignIn {
    pub(super) provider: Provider,
    pub(super) loopback: LoopbackRedirect,
    pub(super) authorize_url: Url,
    pub(super) state: openidconnect::CsrfToken,
    pub(super) nonce: openidconnect::Nonce,
    pub(super) verifier: openidconnect::PkceCodeVerifier,
    /// Shared device: when the request asking for a fresh login was made.
    pub(super) fresh_login_since: Option<Instant>,
    pub(super) cancel: SignInCancel,
    pub(super) timeout: Duration,
    pub(super) browser: Arc<dyn BrowserOpener>,
    pub(super) waiting: WaitingForBrowser,
    pub(super) _guard: GateGuard,
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("county", &self.provider.idp.code)
            .field("redirect_uri", &self.loopback.redirect_uri().as_str())
            .finish()
    }
}

pub(crate) fn same_secret(a: &str, b: &str) -> bool {
    // Compare digests: no early exit on the first differing byte.
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

impl PendingSignIn {
    /// The URL the browser was (or should be) sent to.
    pub fn authorize_url(&self) -> &Url {
        &self.authorize_url
    }

    /// `http://127.0.0.1:{port}/callback/{county}`.
    pub fn redirect_uri(&self) -> &Url {
        self.loopback.redirect_uri()
    }

    /// What the UI shows while waiting.
    pub fn waiting(&self) -> &WaitingForBrowser {
        &self.waiting
    }

    /// A handle that cancels this sign-in.
    pub fn canceller(&self) -> SignInCancel {
        self.cancel.clone()
    }

    /// Opens the authorize URL in the browser again (重新開啟瀏覽器).
    pub fn reopen_browser(&self) -> Result<()> {
        self.browser.open(self.authorize_url.as_str())
    }

    /// Waits for the browser to come back (or cancel / timeout). `desktop`
    /// is the one the sign-in started on (its store caches the JWKS).
    pub async fn wait(self, desktop: &Desktop) -> Result<VerifiedCounty> {
        self.wait_with(desktop, &NoProgress).await
    }

    /// [`wait`](Self::wait) with progress callbacks.
    pub async fn wait_with(
        mut self,
        desktop: &Desktop,
        progress: &dyn SignInProgress,
    ) -> Result<VerifiedCounty> {
        let cache = MetadataCache::new(&desktop.store);
        let county = self.provider.idp.code.clone();
        let cancel = self.cancel.0.clone();
        let callback = tokio::select! {
            cb = self.loopback.next() => cb,
            _ = cancel.cancelled() => Err(CoreError::Cancelled),
            _ = tokio::time::sleep(self.timeout) => Err(CoreError::TimedOut),
        };
        let callback = match callback {
            Ok(cb) => cb,
            Err(e) => {
                tracing::info!(
                    county,
                    code = e.code(),
                    "county sign-in ended without a redirect"
                );
                self.loopback.close().await;
                return Err(e);
            }
        };
        progress.redirect_received(&county);
        let span = tracing::info_span!("county_sign_in_redirect", county = %county);
        let received_at = callback.received_at;
        let completing = Self::complete(
            &mut self.provider,
            &callback,
            &self.state,
            &self.nonce,
            self.verifier,
            cache,
            self.fresh_login_since,
        )
        .instrument(span);
        let result = tokio::select! {
            r = completing => r,
            _ = cancel.cancelled() => Err(CoreError::Cancelled),
        };
        let outcome = match &result {
            Ok(_) => PageOutcome::Done {
                county_zh: self.provider.idp.name_zh.clone(),
                county_en: self.provider.idp.name_en.clone(),
            },
            Err(e) => PageOutcome::Failed {
                code: e.code().to_string(),
            },
        };
        let _ = callback.reply.send(outcome);
        self.loopback.close().await;
        let elapsed = received_at.elapsed();
        match &result {
            Ok(r) => tracing::info!(
                county,
                redirect_to_verified_ms = ms(elapsed),
                code_exchange_ms = ms(r.timings.code_exchange),
                verification_ms = ms(r.timings.verification),
                "county sign-in verified"
            ),
            Err(e) => {
                tracing::warn!(
                    county,
                    code = e.code(),
                    // Debug: the detail may quote the county's own words.
                    detail = ?e.detail().unwrap_or_default(),
                    "county sign-in rejected"
                );
                self.provider.forget_cached(cache);
            }
        }
        let redeemed = result?;
        let revocation = self
            .provider
            .revocation
            .clone()
            .map(|endpoint| CountyRevocation {
                endpoint,
                client_id: self.provider.idp.client_id.clone(),
                client_secret: self.provider.idp.client_secret.clone(),
            });
        Ok(VerifiedCounty {
            identity: redeemed.identity,
            credential: redeemed.credential,
            end_session_endpoint: self.provider.end_session.clone(),
            revocation,
            redirect_to_verified: elapsed,
            redirect_received_at: received_at,
            timings: redeemed.timings,
        })
    }

    async fn complete(
        provider: &mut Provider,
        cb: &loopback::Callback,
        state: &openidconnect::CsrfToken,
        nonce: &openidconnect::Nonce,
        verifier: openidconnect::PkceCodeVerifier,
        cache: MetadataCache<'_>,
        fresh_login_since: Option<Instant>,
    ) -> Result<Redeemed> {
        let param = |name: &str| {
            cb.param(name)
                .map_err(|_| rejected(code::BAD_RESPONSE, format!("`{name}` is repeated")))
        };
        // 1. state first: nothing else is trusted before it matches.
        match param("state")? {
            Some(s) if same_secret(s, state.secret()) => {}
            Some(_) => return Err(rejected(code::STATE_MISMATCH, "state does not match")),
            None => return Err(rejected(code::STATE_MISMATCH, "no state in the response")),
        }
        // 2. RFC 9207 mix-up defence.
        match param("iss")? {
            Some(iss) if iss == provider.issuer() => {}
            Some(iss) => {
                return Err(rejected(
                    code::ISS_MISMATCH,
                    format!("iss {iss:?} (expected {:?})", provider.issuer()),
                ))
            }
            None if provider.iss_required => {
                return Err(rejected(
                    code::ISS_MISSING,
                    "the provider promises iss but sent none",
                ))
            }
            None => {}
        }
        // 3. An error answer (RFC 6749 §4.1.2.1).
        if let Some(error) = param("error")? {
            return Err(CoreError::IdpError {
                error: error.to_string(),
                description: param("error_description")?.map(str::to_string),
            });
        }
        // 4. The code, redeemed exactly once.
        let code = param("code")?
            .filter(|c| !c.is_empty())
            .ok_or_else(|| rejected(code::BAD_RESPONSE, "no code in the response"))?;
        provider
            .redeem(
                SecretString::from(code.to_string()),
                verifier,
                nonce,
                cache,
                fresh_login_since,
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_by_value() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("", "a"));
    }
}
