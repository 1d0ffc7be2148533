//! The Education Cloud session of this app process: sign-in (county Open ID
//! or e-mail + password), 保持登入狀態 through the [`SessionVault`], silent
//! restore at launch, single-flight refresh, sign-out, status and history.
//!
//! [`SessionState`] is the one object the Tauri shell and the CLI keep next
//! to their [`Desktop`]; every operation is a method taking `&Desktop`.
//!
//! Invariants:
//! - the access token lives in memory only; the refresh token rests only in
//!   the OS keychain and only with 保持登入狀態 (never on shared devices);
//! - refresh is single-flight, and a rotated refresh token is written to the
//!   keychain BEFORE the old one is forgotten;
//! - a refreshed session must belong to the same account;
//! - every sign-in attempt is recorded in the store's history (method,
//!   county, account, outcome code) — never a secret.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use url::Url;

use crate::api::{Account, EduCloudClient, SessionTokens};
use crate::browser::BrowserOpener;
use crate::desktop::Desktop;
use crate::directory::CountyDirectory;
use crate::oidc::{
    self, CountyIdentity, SignInCancel, SignInGate, SignInOptions, SignInProgress, VerifiedCounty,
};
use crate::store::{HistoryEntry, KnownAccount};
use crate::vault::{SessionVault, StoredSession, VaultStatus};
use crate::{CoreError, Result};

/// Refresh the access token when it has less than this left.
const ACCESS_MARGIN: Duration = Duration::from_secs(60);

/// How long sign-out waits for the county to revoke its token.
const COUNTY_REVOKE_TIMEOUT: Duration = Duration::from_secs(5);

/// How a session was started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SignInMethod {
    County,
    Password,
    /// Silently, from the keychain.
    Restore,
}

impl SignInMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            SignInMethod::County => "county",
            SignInMethod::Password => "password",
            SignInMethod::Restore => "restore",
        }
    }
}

/// The result of a sign-in that did not fail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", content = "value", rename_all = "snake_case")]
pub enum SignInOutcome {
    SignedIn(Account),
    /// The county identity is verified but no Education Cloud account is
    /// bound to it: offer registration. The credential stays in this
    /// [`SessionState`] ([`SessionState::take_pending_registration`]).
    NotRegistered(CountyIdentity),
}

/// Why 保持登入狀態 is (not) offered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StaySignedIn {
    pub available: bool,
    /// `policy.shared_device`, `policy.stay_signed_in_disabled` or a
    /// `keychain.*` reason code.
    pub reason: Option<String>,
}

/// The signed-in account as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ActiveSession {
    pub account: Account,
    pub method: SignInMethod,
    pub county: Option<String>,
    pub stay_signed_in: bool,
}

/// Everything the account screen and `educloud status` show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionStatus {
    pub signed_in: Option<ActiveSession>,
    pub stay_signed_in: StaySignedIn,
    pub known_accounts: Vec<KnownAccount>,
    pub sign_in_pending: bool,
    pub pending_registration: Option<CountyIdentity>,
}

/// What sign-out did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SignOutResult {
    /// The accounts signed out.
    pub accounts: Vec<String>,
    /// Whether the server confirmed the revocation of the current session.
    pub revoked: bool,
    /// Keychain entries deleted.
    pub keychain_entries_deleted: usize,
    /// The county's logout page (RP-initiated logout) for a county session.
    pub end_session_url: Option<String>,
    /// Whether that page was opened (shared devices do so automatically).
    pub end_session_opened: bool,
    /// Whether a county access token the app still held (a pending
    /// registration's, Taipei profile) was revoked at the county (RFC 7009).
    pub county_token_revoked: bool,
}

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

struct Active {
    account: Account,
    method: SignInMethod,
    county: Option<String>,
    access_token: SecretString,
    access_expires: Instant,
    refresh_token: SecretString,
    refresh_expires_at: i64,
    stay_signed_in: bool,
    end_session: Option<Url>,
    client_id: Option<String>,
}

struct PendingControl {
    cancel: SignInCancel,
    authorize_url: String,
    browser: Arc<dyn BrowserOpener>,
}

/// The session of one app process.
pub struct SessionState {
    vault: SessionVault,
    gate: SignInGate,
    current: Mutex<Option<Active>>,
    /// Bumped whenever `current` changes (single-flight refresh).
    generation: Mutex<u64>,
    refresh_lock: tokio::sync::Mutex<()>,
    pending: Mutex<Option<PendingControl>>,
    registration: Mutex<Option<VerifiedCounty>>,
    keychain: Mutex<Option<VaultStatus>>,
    last_timings: Mutex<Option<SignInTimings>>,
    sign_in_timeout: Mutex<Duration>,
}

impl Default for SessionState {
    fn default() -> Self {
        Self::new(SessionVault::os())
    }
}

impl std::fmt::Debug for SessionState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionState")
            .field("vault", &self.vault)
            .field(
                "signed_in",
                &self
                    .lock_current()
                    .as_ref()
                    .map(|a| a.account.email.clone()),
            )
            .finish()
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn now_unix() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn is_session_dead(e: &CoreError) -> bool {
    matches!(
        e.code(),
        "refresh.invalid"
            | "refresh.reused"
            | "refresh.expired"
            | "session.invalid"
            | "token.expired"
    )
}

impl SessionState {
    /// A session state over `vault` (the OS keychain in the app).
    pub fn new(vault: SessionVault) -> Self {
        SessionState {
            vault,
            gate: SignInGate::new(),
            current: Mutex::new(None),
            generation: Mutex::new(0),
            refresh_lock: tokio::sync::Mutex::new(()),
            pending: Mutex::new(None),
            registration: Mutex::new(None),
            keychain: Mutex::new(None),
            last_timings: Mutex::new(None),
            sign_in_timeout: Mutex::new(oidc::DEFAULT_TIMEOUT),
        }
    }

    /// The vault in use.
    pub fn vault(&self) -> &SessionVault {
        &self.vault
    }

    /// Changes how long a county sign-in waits for the browser.
    pub fn set_sign_in_timeout(&self, timeout: Duration) {
        *lock(&self.sign_in_timeout) = timeout;
    }

    fn lock_current(&self) -> MutexGuard<'_, Option<Active>> {
        lock(&self.current)
    }

    fn generation(&self) -> u64 {
        *lock(&self.generation)
    }

    fn set_current(&self, active: Option<Active>) {
        *self.lock_current() = active;
        *lock(&self.generation) += 1;
    }

    // ---- keychain availability ----

    /// The keychain's state (probed once, then remembered).
    pub async fn keychain_status(&self) -> VaultStatus {
        if let Some(s) = *lock(&self.keychain) {
            return s;
        }
        self.recheck_keychain().await
    }

    /// Probes the keychain again (e.g. after the user unlocked it).
    pub async fn recheck_keychain(&self) -> VaultStatus {
        let s = self.vault.probe().await;
        *lock(&self.keychain) = Some(s);
        s
    }

    /// Whether 保持登入狀態 can be offered, and why not.
    pub async fn stay_signed_in(&self, desktop: &Desktop) -> StaySignedIn {
        let policy = &desktop.policy.policy;
        if policy.shared_device() {
            return StaySignedIn {
                available: false,
                reason: Some("policy.shared_device".into()),
            };
        }
        if !policy.stay_signed_in_allowed() {
            return StaySignedIn {
                available: false,
                reason: Some("policy.stay_signed_in_disabled".into()),
            };
        }
        match self.keychain_status().await {
            VaultStatus::Available => StaySignedIn {
                available: true,
                reason: None,
            },
            VaultStatus::Unavailable(r) => StaySignedIn {
                available: false,
                reason: Some(r.code().to_string()),
            },
        }
    }

    // ---- sign-in ----

    /// County Open ID sign-in through the system browser, then the token
    /// exchange with Education Cloud.
    pub async fn sign_in_county(
        &self,
        desktop: &Desktop,
        county: &str,
        stay_signed_in: bool,
        progress: &dyn SignInProgress,
    ) -> Result<SignInOutcome> {
        *lock(&self.last_timings) = None;
        let mut timed = None;
        let result = self
            .sign_in_county_inner(desktop, county, stay_signed_in, progress, &mut timed)
            .await;
        let (account, outcome) = match &result {
            Ok(SignInOutcome::SignedIn(a)) => (Some(a.email.as_str()), "ok"),
            Ok(SignInOutcome::NotRegistered(_)) => (None, "account.not_registered"),
            Err(e) => (None, e.code()),
        };
        let recording = Instant::now();
        self.record(
            desktop,
            SignInMethod::County,
            Some(county),
            account,
            outcome,
        );
        if let (Ok(SignInOutcome::SignedIn(_)), Some((received_at, mut t))) = (&result, timed) {
            t.store_write += recording.elapsed();
            t.total = received_at.elapsed();
            *lock(&self.last_timings) = Some(t);
            tracing::info!(
                county,
                redirect_to_signed_in_ms = oidc::ms(t.total),
                code_exchange_ms = oidc::ms(t.code_exchange),
                verification_ms = oidc::ms(t.verification),
                cloud_session_ms = oidc::ms(t.cloud_session),
                keychain_write_ms = oidc::ms(t.keychain_write),
                store_write_ms = oidc::ms(t.store_write),
                other_ms = oidc::ms(t.other()),
                "signed in with the county"
            );
        }
        result
    }

    async fn sign_in_county_inner(
        &self,
        desktop: &Desktop,
        county: &str,
        stay_signed_in: bool,
        progress: &dyn SignInProgress,
        timed: &mut Option<(Instant, SignInTimings)>,
    ) -> Result<SignInOutcome> {
        let directory = CountyDirectory::load(desktop).await?;
        let idp = directory.get(county)?.clone();
        let shared = desktop.policy.policy.shared_device();
        let options = SignInOptions {
            timeout: *lock(&self.sign_in_timeout),
            prompt_login: shared,
            lang: None,
        };
        let pending = oidc::start_county_sign_in(desktop, &idp, &self.gate, options).await?;
        *lock(&self.pending) = Some(PendingControl {
            cancel: pending.canceller(),
            authorize_url: pending.authorize_url().to_string(),
            browser: desktop.browser.clone(),
        });
        progress.waiting_for_browser(pending.waiting());
        let verified = pending.wait_with(desktop, progress).await;
        *lock(&self.pending) = None;
        let verified = verified?;
        let exchange_started = Instant::now();
        let api = EduCloudClient::for_desktop(desktop).await?;
        let exchanged = api.sign_in_county(county, &verified.credential).await;
        let cloud_session = exchange_started.elapsed();
        match exchanged {
            Ok(tokens) => {
                let (account, mut t) = self
                    .establish(
                        desktop,
                        tokens,
                        SignInMethod::County,
                        Some(county.to_string()),
                        stay_signed_in,
                        verified.end_session_endpoint.clone(),
                        Some(idp.client_id.clone()),
                    )
                    .await?;
                t.code_exchange = verified.timings.code_exchange;
                t.verification = verified.timings.verification;
                t.cloud_session = cloud_session;
                *timed = Some((verified.redirect_received_at, t));
                let stale = lock(&self.registration).take();
                self.discard_county(desktop, stale).await;
                Ok(SignInOutcome::SignedIn(account))
            }
            Err(e) if e.code() == "account.not_registered" => {
                let identity = verified.identity.clone();
                let stale = lock(&self.registration).replace(verified);
                self.discard_county(desktop, stale).await;
                Ok(SignInOutcome::NotRegistered(identity))
            }
            Err(e) => Err(e),
        }
    }

    /// E-mail + password sign-in.
    pub async fn sign_in_password(
        &self,
        desktop: &Desktop,
        email: &str,
        password: SecretString,
        stay_signed_in: bool,
    ) -> Result<Account> {
        let email = email.trim();
        // Bounded input: an address is at most 254 characters (RFC 5321), a
        // password at most the rules' input limit; nothing longer is sent.
        if email.is_empty() || email.len() > 254 {
            return Err(CoreError::invalid("email", "email.invalid"));
        }
        if password.expose_secret().len() > educloud_contract::rules::MAX_INPUT_BYTES {
            return Err(CoreError::invalid("password", "too_long"));
        }
        let result = async {
            let api = EduCloudClient::for_desktop(desktop).await?;
            let tokens = api.sign_in_password(email, &password).await?;
            self.establish(
                desktop,
                tokens,
                SignInMethod::Password,
                None,
                stay_signed_in,
                None,
                None,
            )
            .await
            .map(|(account, _)| account)
        }
        .await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        let account = result.as_ref().map(|a| a.email.clone()).ok();
        self.record(
            desktop,
            SignInMethod::Password,
            None,
            Some(account.as_deref().unwrap_or(email)),
            outcome,
        );
        result
    }

    /// Cancels the pending county sign-in (取消).
    pub fn cancel_sign_in(&self) -> bool {
        match lock(&self.pending).as_ref() {
            Some(p) => {
                p.cancel.cancel();
                true
            }
            None => false,
        }
    }

    /// Opens the pending sign-in's page again (重新開啟瀏覽器).
    pub fn reopen_browser(&self) -> Result<()> {
        let (browser, url) = match lock(&self.pending).as_ref() {
            Some(p) => (p.browser.clone(), p.authorize_url.clone()),
            None => return Err(CoreError::NotSignedIn),
        };
        browser.open(&url)
    }

    /// The pending sign-in's authorize URL (複製連結).
    pub fn pending_authorize_url(&self) -> Option<String> {
        lock(&self.pending)
            .as_ref()
            .map(|p| p.authorize_url.clone())
    }

    /// The identity of a county sign-in that found no account.
    pub fn pending_registration(&self) -> Option<CountyIdentity> {
        lock(&self.registration)
            .as_ref()
            .map(|v| v.identity.clone())
    }

    /// Hands the verified county sign-in (with its credential) to the
    /// registration; it is gone from here afterwards.
    pub fn take_pending_registration(&self) -> Option<VerifiedCounty> {
        lock(&self.registration).take()
    }

    /// The verified county sign-in waiting for a registration, left in
    /// place so a submission refused for a field can be retried.
    pub fn pending_county(&self) -> Option<VerifiedCounty> {
        lock(&self.registration).clone()
    }

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

    #[allow(clippy::too_many_arguments)]
    async fn establish(
        &self,
        desktop: &Desktop,
        tokens: SessionTokens,
        method: SignInMethod,
        county: Option<String>,
        stay_signed_in: bool,
        end_session: Option<Url>,
        client_id: Option<String>,
    ) -> Result<(Account, SignInTimings)> {
        let mut timings = SignInTimings::default();
        let policy = &desktop.policy.policy;
        let mut stay = stay_signed_in && policy.stay_signed_in_allowed();
        if stay_signed_in && !stay {
            tracing::info!("保持登入狀態 ignored: not allowed by policy");
        }
        let refresh_expires_at = now_unix().saturating_add(tokens.refresh_expires_in as i64);
        let email = tokens.account.email.clone();
        if stay {
            let stored = StoredSession {
                refresh_token: tokens.refresh_token.clone(),
                expires_at: refresh_expires_at,
            };
            let writing = Instant::now();
            let saved = self.vault.save(&email, &stored).await;
            timings.keychain_write = writing.elapsed();
            if let Err(e) = saved {
                tracing::warn!(
                    code = e.code(),
                    "could not keep the session in the keychain"
                );
                stay = false;
            }
        } else if self.was_kept(desktop, &email) {
            // A previous 保持登入狀態 of this account no longer applies.
            // (Only touched when there was one: a broken keychain can take
            // its full timeout to answer.)
            let writing = Instant::now();
            let _ = self.vault.delete(&email).await;
            timings.keychain_write = writing.elapsed();
        }
        // Switching accounts: a session nobody will restore is revoked.
        let previous = self.lock_current().take();
        if let Some(prev) = previous {
            if !prev.stay_signed_in && prev.account.email != email {
                if let Ok(api) = EduCloudClient::for_desktop(desktop).await {
                    let _ = api.revoke(&prev.access_token).await;
                }
            }
        }
        if !policy.shared_device() {
            let writing = Instant::now();
            desktop.store.remember_account(&KnownAccount {
                account: email.clone(),
                display_name: Some(tokens.account.display_name.clone()).filter(|n| !n.is_empty()),
                county: county.clone().or(tokens.account.county.clone()),
                method: method.as_str().to_string(),
                stay_signed_in: stay,
                last_signed_in: crate::store::now_rfc3339(),
            })?;
            timings.store_write = writing.elapsed();
        }
        let account = tokens.account.clone();
        self.set_current(Some(Active {
            account: tokens.account,
            method,
            county,
            access_token: tokens.access_token,
            access_expires: Instant::now() + Duration::from_secs(tokens.expires_in),
            refresh_token: tokens.refresh_token,
            refresh_expires_at,
            stay_signed_in: stay,
            end_session,
            client_id,
        }));
        Ok((account, timings))
    }

    /// Drops a verified county sign-in nobody will use any more (a pending
    /// registration replaced or signed out). A revocable credential — the
    /// Taipei profile's access token, with a `revocation_endpoint` — is
    /// revoked at the county first (RFC 7009); an ID token is only dropped
    /// (zeroized: `SecretString`). Returns whether the county revoked.
    async fn discard_county(&self, desktop: &Desktop, verified: Option<VerifiedCounty>) -> bool {
        let Some(verified) = verified else {
            return false;
        };
        let revoking = oidc::revoke_county_credential(desktop, &verified);
        match tokio::time::timeout(COUNTY_REVOKE_TIMEOUT, revoking).await {
            Ok(Ok(revoked)) => revoked,
            Ok(Err(e)) => {
                tracing::warn!(
                    code = e.code(),
                    "the county token could not be revoked; dropped"
                );
                false
            }
            Err(_) => {
                tracing::warn!("revoking the county token timed out; dropped");
                false
            }
        }
    }

    /// Whether the store remembers 保持登入狀態 for `email`.
    fn was_kept(&self, desktop: &Desktop, email: &str) -> bool {
        desktop
            .store
            .accounts()
            .map(|all| all.iter().any(|k| k.account == email && k.stay_signed_in))
            .unwrap_or(false)
    }

    fn record(
        &self,
        desktop: &Desktop,
        method: SignInMethod,
        county: Option<&str>,
        account: Option<&str>,
        outcome: &str,
    ) {
        // On a shared PC the next pupil must not see who signed in before:
        // the history keeps the method, county and outcome, not the account.
        let account = account.filter(|_| !desktop.policy.policy.shared_device());
        if let Err(e) = desktop
            .store
            .record_sign_in(method.as_str(), county, account, outcome)
        {
            tracing::warn!(error = %e, "could not record the sign-in history");
        }
    }

    // ---- restore and refresh ----

    /// At launch: signs the most recent 保持登入狀態 account in silently
    /// from the keychain. `Ok(None)` when there is nothing to restore.
    /// Whether [`Self::restore_at_launch`] has anything to try: a policy
    /// that allows 保持登入狀態 and an account kept with it (one SQLite read,
    /// no keychain access). The shell starts the service at once when so, and
    /// defers it until the window is interactive otherwise.
    pub fn has_session_to_restore(desktop: &Desktop) -> bool {
        let policy = &desktop.policy.policy;
        if policy.shared_device() || !policy.stay_signed_in_allowed() {
            return false;
        }
        desktop
            .store
            .accounts()
            .map(|accounts| accounts.iter().any(|a| a.stay_signed_in))
            .unwrap_or(false)
    }

    pub async fn restore_at_launch(&self, desktop: &Desktop) -> Result<Option<Account>> {
        if desktop.policy.policy.shared_device() || !desktop.policy.policy.stay_signed_in_allowed()
        {
            return Ok(None);
        }
        let candidates: Vec<KnownAccount> = desktop
            .store
            .accounts()?
            .into_iter()
            .filter(|a| a.stay_signed_in)
            .collect();
        for known in candidates {
            match self.restore_account(desktop, &known.account).await {
                Ok(account) => return Ok(Some(account)),
                Err(CoreError::NotSignedIn) => continue,
                Err(e) if is_session_dead(&e) || e.code() == "session.account_changed" => continue,
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }

    /// Signs `email` in from its keychain entry (account switching).
    /// `session.not_signed_in` when it has none.
    pub async fn restore_account(&self, desktop: &Desktop, email: &str) -> Result<Account> {
        let result = self.restore_inner(desktop, email).await;
        match &result {
            Ok(a) => self.record(
                desktop,
                SignInMethod::Restore,
                a.county.as_deref(),
                Some(email),
                "ok",
            ),
            Err(CoreError::NotSignedIn) => {}
            Err(e) => self.record(desktop, SignInMethod::Restore, None, Some(email), e.code()),
        }
        result
    }

    async fn restore_inner(&self, desktop: &Desktop, email: &str) -> Result<Account> {
        let _flight = self.refresh_lock.lock().await;
        let Some(stored) = self.vault.load(email).await? else {
            let _ = desktop.store.set_stay_signed_in(email, false);
            return Err(CoreError::NotSignedIn);
        };
        if stored.expires_at <= now_unix() {
            let _ = self.vault.delete(email).await;
            let _ = desktop.store.set_stay_signed_in(email, false);
            return Err(CoreError::Service {
                status: 401,
                code: "refresh.expired".into(),
                field: None,
                detail: Some("the kept session has expired".into()),
            });
        }
        let api = EduCloudClient::for_desktop(desktop).await?;
        let tokens = match api.refresh(&stored.refresh_token).await {
            Ok(t) => t,
            Err(e) => {
                if is_session_dead(&e) {
                    self.forget_stored_if_ours(desktop, email, &stored.refresh_token)
                        .await;
                }
                return Err(e);
            }
        };
        self.check_same_account(desktop, email, &tokens).await?;
        // Rotation: the new token is in the keychain before the old one is
        // dropped (it is dropped with `stored` at the end of this scope).
        self.save_rotated(desktop, email, &tokens).await;
        let known = desktop
            .store
            .accounts()?
            .into_iter()
            .find(|a| a.account == email);
        let county = known.as_ref().and_then(|k| k.county.clone());
        let account = tokens.account.clone();
        let expires = Instant::now() + Duration::from_secs(tokens.expires_in);
        let refresh_expires_at = now_unix().saturating_add(tokens.refresh_expires_in as i64);
        let previous = self.lock_current().take();
        if let Some(prev) = previous {
            if !prev.stay_signed_in && prev.account.email != email {
                let _ = api.revoke(&prev.access_token).await;
            }
        }
        self.set_current(Some(Active {
            account: tokens.account,
            method: SignInMethod::Restore,
            county,
            access_token: tokens.access_token,
            access_expires: expires,
            refresh_token: tokens.refresh_token,
            refresh_expires_at,
            stay_signed_in: true,
            end_session: None,
            client_id: None,
        }));
        drop(stored);
        let _ = desktop.store.remember_account(&KnownAccount {
            account: email.to_string(),
            display_name: Some(account.display_name.clone()).filter(|n| !n.is_empty()),
            county: known.and_then(|k| k.county).or(account.county.clone()),
            method: SignInMethod::Restore.as_str().into(),
            stay_signed_in: true,
            last_signed_in: crate::store::now_rfc3339(),
        });
        Ok(account)
    }

    async fn check_same_account(
        &self,
        desktop: &Desktop,
        email: &str,
        tokens: &SessionTokens,
    ) -> Result<()> {
        if tokens.account.email.eq_ignore_ascii_case(email) {
            return Ok(());
        }
        tracing::error!("a refresh answered with another account; the session is dropped");
        let _ = self.vault.delete(email).await;
        let _ = desktop.store.set_stay_signed_in(email, false);
        if let Ok(api) = EduCloudClient::for_desktop(desktop).await {
            let _ = api.revoke(&tokens.access_token).await;
        }
        Err(CoreError::SignInRejected {
            code: "session.account_changed",
            detail: "the refreshed session belongs to another account".into(),
        })
    }

    /// Deletes `email`'s keychain entry only if it still holds `token`:
    /// another process (a second launch) may have rotated and stored a
    /// newer one, which is not ours to delete.
    async fn forget_stored_if_ours(&self, desktop: &Desktop, email: &str, token: &SecretString) {
        use sha2::{Digest, Sha256};
        let ours = match self.vault.load(email).await {
            Ok(Some(stored)) => {
                Sha256::digest(stored.refresh_token.expose_secret().as_bytes())
                    == Sha256::digest(token.expose_secret().as_bytes())
            }
            _ => false,
        };
        if ours {
            let _ = self.vault.delete(email).await;
            let _ = desktop.store.set_stay_signed_in(email, false);
        }
    }

    /// Writes a rotated refresh token. If that fails the old entry is
    /// useless (rotated away), so it is deleted and 保持登入狀態 turned off.
    async fn save_rotated(&self, desktop: &Desktop, email: &str, tokens: &SessionTokens) -> bool {
        let stored = StoredSession {
            refresh_token: tokens.refresh_token.clone(),
            expires_at: now_unix().saturating_add(tokens.refresh_expires_in as i64),
        };
        match self.vault.save(email, &stored).await {
            Ok(()) => true,
            Err(e) => {
                tracing::error!(code = e.code(), "could not store the rotated refresh token");
                let _ = self.vault.delete(email).await;
                let _ = desktop.store.set_stay_signed_in(email, false);
                false
            }
        }
    }

    /// Refreshes the current session (single-flight: concurrent callers
    /// share one refresh).
    pub async fn refresh(&self, desktop: &Desktop) -> Result<Account> {
        let seen = self.generation();
        let _flight = self.refresh_lock.lock().await;
        if self.generation() != seen {
            // Someone else refreshed (or signed out) while we waited.
            return self
                .lock_current()
                .as_ref()
                .map(|a| a.account.clone())
                .ok_or(CoreError::NotSignedIn);
        }
        let (refresh_token, email, stay) = match self.lock_current().as_ref() {
            Some(a) => (
                a.refresh_token.clone(),
                a.account.email.clone(),
                a.stay_signed_in,
            ),
            None => return Err(CoreError::NotSignedIn),
        };
        let api = EduCloudClient::for_desktop(desktop).await?;
        let tokens = match api.refresh(&refresh_token).await {
            Ok(t) => t,
            Err(e) => {
                if is_session_dead(&e) {
                    self.set_current(None);
                    if stay {
                        self.forget_stored_if_ours(desktop, &email, &refresh_token)
                            .await;
                    }
                }
                return Err(e);
            }
        };
        if let Err(e) = self.check_same_account(desktop, &email, &tokens).await {
            self.set_current(None);
            return Err(e);
        }
        let still_stay = if stay {
            self.save_rotated(desktop, &email, &tokens).await
        } else {
            false
        };
        let account = tokens.account.clone();
        let mut guard = self.lock_current();
        if let Some(active) = guard.as_mut() {
            active.account = tokens.account;
            active.access_token = tokens.access_token;
            active.access_expires = Instant::now() + Duration::from_secs(tokens.expires_in);
            active.refresh_token = tokens.refresh_token;
            active.refresh_expires_at = now_unix().saturating_add(tokens.refresh_expires_in as i64);
            active.stay_signed_in = still_stay;
        }
        drop(guard);
        *lock(&self.generation) += 1;
        Ok(account)
    }

    /// A valid access token for API calls (refreshed when about to expire).
    pub async fn access_token(&self, desktop: &Desktop) -> Result<SecretString> {
        {
            let guard = self.lock_current();
            let active = guard.as_ref().ok_or(CoreError::NotSignedIn)?;
            if active.access_expires > Instant::now() + ACCESS_MARGIN {
                return Ok(active.access_token.clone());
            }
        }
        self.refresh(desktop).await?;
        self.lock_current()
            .as_ref()
            .map(|a| a.access_token.clone())
            .ok_or(CoreError::NotSignedIn)
    }

    /// `GET me` with the current session (refreshing once on 401).
    pub async fn me(&self, desktop: &Desktop) -> Result<Account> {
        let api = EduCloudClient::for_desktop(desktop).await?;
        let token = self.access_token(desktop).await?;
        match api.me(&token).await {
            Err(e) if e.code() == "session.invalid" => {
                self.refresh(desktop).await?;
                let token = self.access_token(desktop).await?;
                api.me(&token).await
            }
            other => other,
        }
    }

    // ---- sign-out ----

    /// Signs out: revokes at the server, deletes the keychain entry and
    /// offers (on shared devices: opens) the county's logout page. With
    /// `all`, every account kept on this device is signed out too. With no
    /// session in this process, the most recent kept account is signed out
    /// (the CLI's `educloud logout`). A pending registration's county
    /// sign-in is discarded, its access token revoked at the county when it
    /// has one (Taipei) and the county a `revocation_endpoint`; discarding
    /// only that is a sign-out too (`accounts` empty).
    /// `session.not_signed_in` when there was nothing at all.
    pub async fn sign_out(&self, desktop: &Desktop, all: bool) -> Result<SignOutResult> {
        let mut result = SignOutResult::default();
        let active = self.lock_current().take();
        *lock(&self.generation) += 1;
        let registration = lock(&self.registration).take();
        let discarded_registration = registration.is_some();
        result.county_token_revoked = self.discard_county(desktop, registration).await;
        let api = EduCloudClient::for_desktop(desktop).await;
        if let Some(a) = &active {
            result.accounts.push(a.account.email.clone());
            if let Ok(api) = &api {
                match api.revoke(&a.access_token).await {
                    Ok(()) => result.revoked = true,
                    Err(e) => {
                        tracing::warn!(code = e.code(), "revocation failed; signed out locally")
                    }
                }
            }
            if (a.stay_signed_in || self.was_kept(desktop, &a.account.email))
                && self.vault.delete(&a.account.email).await.unwrap_or(false)
            {
                result.keychain_entries_deleted += 1;
            }
            let _ = desktop.store.set_stay_signed_in(&a.account.email, false);
            if let (Some(endpoint), Some(client_id)) = (&a.end_session, &a.client_id) {
                let mut url = endpoint.clone();
                url.query_pairs_mut().append_pair("client_id", client_id);
                result.end_session_url = Some(url.to_string());
                if desktop.policy.policy.shared_device() {
                    result.end_session_opened = desktop.browser.open(url.as_str()).is_ok();
                }
            }
        }
        let kept: Vec<KnownAccount> = desktop
            .store
            .accounts()?
            .into_iter()
            .filter(|k| k.stay_signed_in)
            .collect();
        let others: Vec<KnownAccount> = if all {
            kept
        } else if active.is_none() {
            kept.into_iter().take(1).collect()
        } else {
            Vec::new()
        };
        for known in others {
            let email = known.account;
            if let (Ok(Some(stored)), Ok(api)) = (self.vault.load(&email).await, &api) {
                // Revoke the kept family: refresh once, then end that session.
                if let Ok(tokens) = api.refresh(&stored.refresh_token).await {
                    if api.revoke(&tokens.access_token).await.is_ok() && active.is_none() {
                        result.revoked = true;
                    }
                }
            }
            if self.vault.delete(&email).await.unwrap_or(false) {
                result.keychain_entries_deleted += 1;
            }
            let _ = desktop.store.set_stay_signed_in(&email, false);
            if !result.accounts.contains(&email) {
                result.accounts.push(email);
            }
        }
        if result.accounts.is_empty() && !discarded_registration {
            return Err(CoreError::NotSignedIn);
        }
        Ok(result)
    }

    /// Removes an account from this device (keychain entry and list).
    pub async fn forget_account(&self, desktop: &Desktop, email: &str) -> Result<()> {
        let signed_in = self
            .lock_current()
            .as_ref()
            .is_some_and(|a| a.account.email == email);
        if signed_in {
            self.sign_out(desktop, false).await?;
        }
        self.vault.delete(email).await?;
        desktop.store.forget_account(email)?;
        Ok(())
    }

    // ---- status ----

    /// The current session, if any.
    pub fn active(&self) -> Option<ActiveSession> {
        self.lock_current().as_ref().map(|a| ActiveSession {
            account: a.account.clone(),
            method: a.method,
            county: a.county.clone(),
            stay_signed_in: a.stay_signed_in,
        })
    }

    /// Everything the account screen shows.
    pub async fn status(&self, desktop: &Desktop) -> Result<SessionStatus> {
        Ok(SessionStatus {
            signed_in: self.active(),
            stay_signed_in: self.stay_signed_in(desktop).await,
            known_accounts: desktop.store.accounts()?,
            sign_in_pending: self.gate.is_busy(),
            pending_registration: self.pending_registration(),
        })
    }

    /// The sign-in history, newest first.
    pub fn history(&self, desktop: &Desktop, limit: u32) -> Result<Vec<HistoryEntry>> {
        desktop.store.history(limit)
    }

    /// Accounts known on this device, most recent first.
    pub fn known_accounts(&self, desktop: &Desktop) -> Result<Vec<KnownAccount>> {
        desktop.store.accounts()
    }

    /// Seconds until the kept refresh token expires (diagnostics).
    pub fn refresh_expires_in(&self) -> Option<i64> {
        self.lock_current()
            .as_ref()
            .map(|a| a.refresh_expires_at - now_unix())
    }

    /// Whether the in-memory refresh token equals `token` (tests of
    /// rotation; compares digests).
    #[doc(hidden)]
    pub fn holds_refresh_token(&self, token: &str) -> bool {
        use sha2::{Digest, Sha256};
        self.lock_current().as_ref().is_some_and(|a| {
            Sha256::digest(a.refresh_token.expose_secret().as_bytes())
                == Sha256::digest(token.as_bytes())
        })
    }
}
