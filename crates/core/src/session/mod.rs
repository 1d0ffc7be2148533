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

use crate::api::Account;
use crate::browser::BrowserOpener;
use crate::contract::wire::code as wire;
use crate::desktop::Desktop;
use crate::error::code;
use crate::oidc::{self, CountyIdentity, SignInCancel, SignInGate, VerifiedCounty};
use crate::store::{HistoryEntry, KnownAccount};
use crate::vault::{SessionVault, VaultStatus};
use crate::{CoreError, Result};

mod accounts;
mod county;
mod restore;
mod revoke;
mod sign_in;
mod sign_out;
mod timings;
mod web;

pub use timings::SignInTimings;

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
    /// 保持登入狀態 was asked for but the keychain refused it: the reason's
    /// code (`keychain.too_large`, `keychain.unavailable` …), so it is not
    /// turned off silently.
    pub stay_signed_in_problem: Option<String>,
}

/// Everything the account screen and `educloud status` show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionStatus {
    pub signed_in: Option<ActiveSession>,
    pub stay_signed_in: StaySignedIn,
    pub known_accounts: Vec<KnownAccount>,
    pub sign_in_pending: bool,
    pub pending_registration: Option<CountyIdentity>,
    /// The newest [`STATUS_HISTORY`] sign-in history rows.
    pub history: Vec<HistoryEntry>,
    /// The service the app uses now ([`service_key`]; `None` while it is
    /// not known): a known account whose `service_origin` differs belongs
    /// to another service and is not signed in here.
    pub service_origin: Option<String>,
}

/// How many history rows [`SessionState::status`] carries.
pub const STATUS_HISTORY: u32 = 20;

/// What sign-out should do besides ending the session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignOutOptions {
    /// Every account kept on this device too.
    pub all: bool,
    /// Also open the county's own sign-out page (RP-initiated logout), where
    /// the county has one: its browser session ends too. Always on shared
    /// devices.
    pub end_county_session: bool,
    /// Also remove the signed-out accounts from this PC (their row and
    /// sign-in history): a person on a shared PC without a `SharedDevice`
    /// policy can leave nothing behind.
    pub forget: bool,
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
    /// Accounts whose session the service could not be told to end
    /// (offline): signed out here, ended there at the next launch
    /// ([`Self::retry_at_launch`]).
    pub not_revoked: Vec<String>,
    /// Whether those are kept for the next launch (false: no keychain).
    pub retry_at_launch: bool,
    /// What the UI tells the user: `signout.not_revoked` (words in the
    /// catalogs) when a session could not be ended at the service.
    pub notice: Option<&'static str>,
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
    stay_problem: Option<String>,
    end_session: Option<Url>,
    client_id: Option<String>,
    /// The service that issued the session ([`service_origin`]).
    origin: String,
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
    /// The county sign-in running in the background ([`county`]).
    running: county::Running,
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

/// The service a session belongs to: the embedded demo is `sandbox` (its
/// port changes every launch, its data is the app's own), any other service
/// its URL's origin. A kept session is only ever sent to the service whose
/// key it was stored under (issue 12 item 2).
pub(crate) async fn service_origin(desktop: &Desktop) -> Result<String> {
    let service = desktop.wait_service().await?;
    Ok(service_key(service))
}

/// [`service_origin`] of a known service.
pub fn service_key(service: &crate::desktop::ServiceEndpoint) -> String {
    match service.kind {
        crate::policy::EnvironmentKind::Sandbox => "sandbox".to_string(),
        _ => service.base_url.origin().ascii_serialization(),
    }
}

fn is_session_dead(e: &CoreError) -> bool {
    matches!(
        e.code(),
        wire::REFRESH_INVALID
            | wire::REFRESH_REUSED
            | code::REFRESH_EXPIRED
            | wire::SESSION_INVALID
            | wire::TOKEN_EXPIRED
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
            running: Default::default(),
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
        let policy = desktop.policy();
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

    /// Whether the store remembers 保持登入狀態 for `email`.
    fn was_kept(&self, desktop: &Desktop, email: &str) -> bool {
        self.kept_at(desktop, email).is_some()
    }

    /// Where `email`'s kept session is: `Some(Some(origin))`, or
    /// `Some(None)` for one kept before sessions were bound to a service;
    /// `None` when it has none.
    fn kept_at(&self, desktop: &Desktop, email: &str) -> Option<Option<String>> {
        desktop
            .store
            .accounts()
            .ok()?
            .into_iter()
            .find(|k| k.account == email && k.stay_signed_in)
            .map(|k| k.service_origin)
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
        let account = account.filter(|_| !desktop.policy().shared_device());
        if let Err(e) = desktop
            .store
            .record_sign_in(method.as_str(), county, account, outcome)
        {
            tracing::warn!(error = %e, "could not record the sign-in history");
        }
    }

    // ---- status ----

    /// The current session, if any.
    pub fn active(&self) -> Option<ActiveSession> {
        self.lock_current().as_ref().map(|a| ActiveSession {
            account: a.account.clone(),
            method: a.method,
            county: a.county.clone(),
            stay_signed_in: a.stay_signed_in,
            stay_signed_in_problem: a.stay_problem.clone(),
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
            history: desktop.store.history(STATUS_HISTORY)?,
            service_origin: desktop.service().map(service_key),
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
