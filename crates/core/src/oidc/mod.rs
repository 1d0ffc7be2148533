//! County Open ID sign-in: the RFC 8252 native-app flow through the
//! **system browser** and a loopback redirect.
//!
//! ```text
//! start_county_sign_in(desktop, idp, gate, options)
//!   → discovery + JWKS (checked)          [provider]
//!   → bind 127.0.0.1:0 /callback/{county} [loopback]
//!   → authorize URL (code, PKCE S256, state, nonce, scopes)
//!   → open the system browser (failure is not fatal: copy/reopen)
//!   = PendingSignIn { authorize_url, … }
//! pending.wait(desktop).await
//!   → the first redirect: state, iss (RFC 9207), error → code exchange
//!     → ID token (at_hash when present) / UserInfo / profile resources verified
//!   → the browser is answered with a localized page, the port closed
//!   = VerifiedCounty { identity, credential }
//! ```
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

mod loopback;
pub mod page;
mod provider;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use educloud_contract::county::IdpProfile;
use secrecy::SecretString;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use url::Url;

pub use loopback::LoopbackRedirect;
pub use provider::{ALLOWED_ALGS, DISCOVERY_TTL, IAT_MAX_AGE, IAT_SKEW, JWKS_TTL, MAX_CACHE_TTL};

use crate::browser::BrowserOpener;
use crate::desktop::Desktop;
use crate::directory::CountyIdp;
use crate::{CoreError, Result};
use page::PageOutcome;
use provider::{IdpHttp, MetadataCache, Provider};

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

/// A county's RFC 7009 revocation endpoint and the client that revokes
/// there (the policy's client secret, when any, stays redacted).
#[derive(Debug, Clone)]
pub struct CountyRevocation {
    pub endpoint: Url,
    client_id: String,
    client_secret: Option<SecretString>,
}

/// Revokes a verified county sign-in's credential at the county (RFC 7009)
/// when it is revocable: a Taipei access token, with a
/// `revocation_endpoint` in the county's metadata. `Ok(false)` when there
/// is nothing to revoke (an ID token is not an OAuth token; no endpoint).
pub async fn revoke_county_credential(
    desktop: &Desktop,
    verified: &VerifiedCounty,
) -> Result<bool> {
    let (CountyCredential::AccessToken(token), Some(revocation)) =
        (&verified.credential, &verified.revocation)
    else {
        return Ok(false);
    };
    let http = crate::api::http_client(&desktop.policy.policy)?;
    provider::revoke_access_token(
        &http,
        &revocation.endpoint,
        &revocation.client_id,
        revocation.client_secret.as_ref(),
        token,
    )
    .await?;
    tracing::info!(county = %verified.identity.county, "county access token revoked");
    Ok(true)
}

/// Options of one county sign-in.
#[derive(Debug, Clone)]
pub struct SignInOptions {
    /// How long to wait for the browser to come back.
    pub timeout: Duration,
    /// Ask the county to show its login form even with a session
    /// (`prompt=login`; shared devices).
    pub prompt_login: bool,
    /// Page language (`zh-TW` or `en`); `None` = the app's setting.
    pub lang: Option<String>,
}

impl Default for SignInOptions {
    fn default() -> Self {
        SignInOptions {
            timeout: DEFAULT_TIMEOUT,
            prompt_login: false,
            lang: None,
        }
    }
}

/// What the UI shows while waiting ("請在瀏覽器中完成 {county} 登入").
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WaitingForBrowser {
    pub county: String,
    pub county_name_zh: String,
    pub county_name_en: String,
    /// For 複製連結 / 重新開啟瀏覽器.
    pub authorize_url: String,
    /// Whether the launcher started (not whether a page is showing).
    pub browser_opened: bool,
    /// The launcher's error, when it failed (the UI offers copy-link).
    pub browser_error: Option<String>,
    pub timeout_secs: u64,
}

/// Progress callbacks (all optional).
pub trait SignInProgress: Send + Sync {
    /// The browser was asked to open the county's page.
    fn waiting_for_browser(&self, _waiting: &WaitingForBrowser) {}
    /// The county redirected back; verification runs ("驗證中…").
    fn redirect_received(&self, _county: &str) {}
}

/// No progress reporting.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;
impl SignInProgress for NoProgress {}

/// Allows one pending county sign-in at a time.
#[derive(Debug, Clone, Default)]
pub struct SignInGate(Arc<AtomicBool>);

struct GateGuard(Arc<AtomicBool>);

impl Drop for GateGuard {
    fn drop(&mut self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

impl SignInGate {
    pub fn new() -> Self {
        Self::default()
    }

    fn acquire(&self) -> Result<GateGuard> {
        self.0
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .map_err(|_| CoreError::SignInPending)?;
        Ok(GateGuard(self.0.clone()))
    }

    /// Whether a sign-in is pending.
    pub fn is_busy(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// Cancels a pending sign-in (clonable; safe from any thread).
#[derive(Debug, Clone, Default)]
pub struct SignInCancel(CancellationToken);

impl SignInCancel {
    pub fn cancel(&self) {
        self.0.cancel();
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.is_cancelled()
    }
}

/// A county sign-in waiting for the browser.
pub struct PendingSignIn {
    provider: Provider,
    loopback: LoopbackRedirect,
    authorize_url: Url,
    state: openidconnect::CsrfToken,
    nonce: openidconnect::Nonce,
    verifier: openidconnect::PkceCodeVerifier,
    cancel: SignInCancel,
    timeout: Duration,
    browser: Arc<dyn BrowserOpener>,
    waiting: WaitingForBrowser,
    _guard: GateGuard,
}

impl std::fmt::Debug for PendingSignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingSignIn")
            .field("county", &self.provider.idp.code)
            .field("redirect_uri", &self.loopback.redirect_uri().as_str())
            .finish()
    }
}

/// Resolves the county, binds the loopback port, builds the authorization
/// request and opens the system browser. A launcher failure is reported in
/// [`PendingSignIn::waiting`] (the UI offers copy-link), not as an error.
pub async fn start_county_sign_in(
    desktop: &Desktop,
    idp: &CountyIdp,
    gate: &SignInGate,
    options: SignInOptions,
) -> Result<PendingSignIn> {
    let guard = gate.acquire()?;
    let http = IdpHttp {
        client: crate::api::http_client(&desktop.policy.policy)?,
    };
    let lang = match options.lang {
        Some(l) => l,
        None => crate::settings::language(&desktop.policy.policy, &desktop.store)?.value,
    };
    let mut provider = Provider::resolve(idp, http, MetadataCache::new(&desktop.store)).await?;
    let loopback = LoopbackRedirect::bind(&idp.code, &lang).await?;
    provider.set_redirect(loopback.redirect_uri())?;
    let request = provider.authorize(options.prompt_login);
    let browser = desktop.browser.clone();
    let opened = browser.open(request.url.as_str());
    if let Err(e) = &opened {
        tracing::warn!(error = %e, "the browser did not open; the UI offers the link");
    }
    let waiting = WaitingForBrowser {
        county: idp.code.clone(),
        county_name_zh: idp.name_zh.clone(),
        county_name_en: idp.name_en.clone(),
        authorize_url: request.url.to_string(),
        browser_opened: opened.is_ok(),
        browser_error: opened.err().map(|e| e.to_string()),
        timeout_secs: options.timeout.as_secs(),
    };
    tracing::info!(county = %idp.code, redirect_uri = %loopback.redirect_uri(), "county sign-in started");
    Ok(PendingSignIn {
        provider,
        loopback,
        authorize_url: request.url,
        state: request.state,
        nonce: request.nonce,
        verifier: request.verifier,
        cancel: SignInCancel::default(),
        timeout: options.timeout,
        browser,
        waiting,
        _guard: guard,
    })
}

/// Milliseconds (to 10 µs), for the timing log lines.
pub(crate) fn ms(d: Duration) -> f64 {
    (d.as_micros() as f64 / 1000.0 * 100.0).round() / 100.0
}

fn same_secret(a: &str, b: &str) -> bool {
    // Compare digests: no early exit on the first differing byte.
    Sha256::digest(a.as_bytes()) == Sha256::digest(b.as_bytes())
}

fn rejected(code: &'static str, detail: impl Into<String>) -> CoreError {
    CoreError::SignInRejected {
        code,
        detail: detail.into(),
    }
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
                    detail = e.detail().unwrap_or_default(),
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
    ) -> Result<provider::Redeemed> {
        let param = |name: &str| {
            cb.param(name)
                .map_err(|_| rejected("signin.bad_response", format!("`{name}` is repeated")))
        };
        // 1. state first: nothing else is trusted before it matches.
        match param("state")? {
            Some(s) if same_secret(s, state.secret()) => {}
            Some(_) => return Err(rejected("signin.state_mismatch", "state does not match")),
            None => {
                return Err(rejected(
                    "signin.state_mismatch",
                    "no state in the response",
                ))
            }
        }
        // 2. RFC 9207 mix-up defence.
        match param("iss")? {
            Some(iss) if iss == provider.issuer() => {}
            Some(iss) => {
                return Err(rejected(
                    "signin.iss_mismatch",
                    format!("iss {iss} (expected {})", provider.issuer()),
                ))
            }
            None if provider.iss_required => {
                return Err(rejected(
                    "signin.iss_missing",
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
            .ok_or_else(|| rejected("signin.bad_response", "no code in the response"))?;
        provider
            .redeem(SecretString::from(code.to_string()), verifier, nonce, cache)
            .await
    }
}

/// A county sign-in that stops at the verified identity: no Education
/// Cloud session, nothing stored (`educloud counties test <code>`, the IT
/// check). Uses its own gate.
pub async fn test_county_sign_in(
    desktop: &Desktop,
    county: &str,
    options: SignInOptions,
    progress: &dyn SignInProgress,
) -> Result<VerifiedCounty> {
    let directory = crate::directory::CountyDirectory::load(desktop).await?;
    let idp = directory.get(county)?;
    let gate = SignInGate::new();
    let pending = start_county_sign_in(desktop, idp, &gate, options).await?;
    progress.waiting_for_browser(pending.waiting());
    pending.wait_with(desktop, progress).await
}

/// Health of one county IdP (`educloud counties --check`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountyHealth {
    pub county: String,
    pub issuer: String,
    pub profile: IdpProfile,
    /// Discovery (or RFC 8414 for Taipei) answered and its issuer matched.
    pub ok: bool,
    /// Keys in the JWKS (None for profiles without ID tokens).
    pub jwks_keys: Option<usize>,
    /// The error code when not ok.
    pub error: Option<String>,
    pub detail: Option<String>,
    pub elapsed_ms: u64,
}

/// Checks a county IdP: metadata reachable, issuer matching, JWKS has keys.
/// Always fetches (a live check); what it fetched refreshes the cache.
pub async fn check_county(desktop: &Desktop, idp: &CountyIdp) -> CountyHealth {
    let started = Instant::now();
    let result = async {
        let http = IdpHttp {
            client: crate::api::http_client(&desktop.policy.policy)?,
        };
        let provider =
            Provider::resolve(idp, http, MetadataCache::refreshing(&desktop.store)).await?;
        let keys = provider.jwks_len();
        if idp.profile.has_id_token() && keys == 0 {
            return Err(rejected("signin.jwks_empty", "the JWKS has no keys"));
        }
        Ok(idp.profile.has_id_token().then_some(keys))
    }
    .await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(jwks_keys) => CountyHealth {
            county: idp.code.clone(),
            issuer: idp.issuer.clone(),
            profile: idp.profile,
            ok: true,
            jwks_keys,
            error: None,
            detail: None,
            elapsed_ms,
        },
        Err(e) => CountyHealth {
            county: idp.code.clone(),
            issuer: idp.issuer.clone(),
            profile: idp.profile,
            ok: false,
            jwks_keys: None,
            error: Some(e.code().to_string()),
            detail: e.detail(),
            elapsed_ms,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gate_admits_one_at_a_time() {
        let gate = SignInGate::new();
        let g = gate.acquire().unwrap();
        assert!(gate.is_busy());
        assert_eq!(gate.acquire().err().unwrap().code(), "signin.pending");
        drop(g);
        assert!(!gate.is_busy());
        assert!(gate.acquire().is_ok());
    }

    #[test]
    fn secrets_compare_by_value() {
        assert!(same_secret("abc", "abc"));
        assert!(!same_secret("abc", "abd"));
        assert!(!same_secret("", "a"));
    }

    #[test]
    fn credentials_do_not_print() {
        let c = CountyCredential::IdToken(SecretString::from("eyJ.secret".to_string()));
        assert!(!format!("{c:?}").contains("eyJ"));
    }
}
