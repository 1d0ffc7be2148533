//! [`SessionVault`]: the only place a token rests — the Education Cloud
//! refresh token of a user who chose 保持登入狀態, in the OS keychain
//! (Windows Credential Manager, macOS Keychain, Linux Secret Service through
//! `keyring` 3).
//!
//! - Service name `tw.edu.cloud.desktop` in release builds,
//!   `tw.edu.cloud.desktop.dev` in debug builds (a developer's build never
//!   touches the installed app's entries).
//! - A kept session is bound to the service origin that issued it: the
//!   entry's user is `"<e-mail> <origin>"` ([`entry_user`]) and its value,
//!   JSON `{refresh_token, expires_at, origin}`, names the origin again. An
//!   entry is only ever read for the origin it names, so a token is only
//!   ever sent where it came from (issue 12 item 2).
//! - A second kind of entry, `"revoke <e-mail> <origin>"`, holds a refresh
//!   token the app still has to revoke at its service (a sign-out that could
//!   not reach it; a shared-device session while it lives). SQLite knows only
//!   that there is one, never the token.
//! - The value is at most [`MAX_ENTRY_BYTES`] (Windows' limit), counted in
//!   the units the backend stores ([`BACKEND_UNITS`]: UTF-16 on Windows), or
//!   `keychain.too_large`.
//! - Every keyring call runs in `spawn_blocking` with a [`KEYCHAIN_TIMEOUT`]:
//!   a Secret Service call can wait forever on an unlock prompt.
//! - Linux: credentials come from [`secret_service::KeptSecretService`], a
//!   keyring credential builder whose writes share one kept connection.
//! - No keychain → [`VaultStatus::Unavailable`] with a reason the UI shows
//!   next to the disabled checkbox. There is no plaintext fallback.
//! - `MockKeychain` (the `testkit` feature, or this crate's unit tests) is an
//!   in-process stand-in with the keyring API; the app never has one.

use std::sync::Arc;
use std::time::Duration;

use keyring::credential::CredentialBuilder;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{CoreError, Result};

#[cfg(any(test, feature = "testkit"))]
mod mock;
#[cfg(target_os = "linux")]
pub mod secret_service;

#[cfg(any(test, feature = "testkit"))]
pub use mock::{MockFault, MockKeychain};

/// The keychain service name of this build.
pub const SERVICE_NAME: &str = if cfg!(debug_assertions) {
    "tw.edu.cloud.desktop.dev"
} else {
    "tw.edu.cloud.desktop"
};

/// Windows Credential Manager's cap on a credential blob, in bytes.
pub const MAX_ENTRY_BYTES: usize = 2560;

/// The longest a keychain call may take.
pub const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(5);

const PROBE_ACCOUNT: &str = "educloud-keychain-probe";

/// How a backend stores a password string.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobUnits {
    /// As its UTF-8 bytes (Secret Service, macOS Keychain).
    Utf8,
    /// As UTF-16 code units, two bytes each (keyring on Windows).
    Utf16,
}

/// How this build's keychain stores a password.
pub const BACKEND_UNITS: BlobUnits = if cfg!(windows) {
    BlobUnits::Utf16
} else {
    BlobUnits::Utf8
};

/// The bytes `text` takes in a backend that stores `units`.
pub fn stored_len(text: &str, units: BlobUnits) -> usize {
    match units {
        BlobUnits::Utf8 => text.len(),
        BlobUnits::Utf16 => text.encode_utf16().count() * 2,
    }
}

/// The keychain user of `account`'s kept session issued by `origin`.
pub fn entry_user(account: &str, origin: &str) -> String {
    format!("{account} {origin}")
}

fn revoke_user(account: &str, origin: &str) -> String {
    format!("revoke {account} {origin}")
}

/// What the keychain holds for one account.
pub struct StoredSession {
    pub refresh_token: SecretString,
    /// Unix seconds when the refresh token expires.
    pub expires_at: i64,
}

impl std::fmt::Debug for StoredSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredSession")
            .field("refresh_token", &"[REDACTED]")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
struct StoredJson {
    refresh_token: String,
    expires_at: i64,
    #[serde(default)]
    origin: Option<String>,
}

/// Why the keychain cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnavailableReason {
    /// No D-Bus session bus (Linux without a desktop session).
    NoBus,
    /// A bus, but no Secret Service provider (no gnome-keyring/KWallet).
    NoProvider,
    /// The keychain is locked and could not be unlocked.
    Locked,
    /// The keychain did not answer within [`KEYCHAIN_TIMEOUT`].
    TimedOut,
    /// Any other platform failure.
    Failed,
}

impl UnavailableReason {
    /// Every reason (the catalogs' list-keeping test).
    pub const ALL: &'static [UnavailableReason] = &[
        UnavailableReason::NoBus,
        UnavailableReason::NoProvider,
        UnavailableReason::Locked,
        UnavailableReason::TimedOut,
        UnavailableReason::Failed,
    ];

    /// Stable code the UI's catalog explains.
    pub fn code(self) -> &'static str {
        match self {
            UnavailableReason::NoBus => "keychain.no_bus",
            UnavailableReason::NoProvider => "keychain.no_provider",
            UnavailableReason::Locked => "keychain.locked",
            UnavailableReason::TimedOut => "keychain.timed_out",
            UnavailableReason::Failed => "keychain.failed",
        }
    }
}

/// Whether 保持登入狀態 can be offered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason", rename_all = "snake_case")]
pub enum VaultStatus {
    Available,
    Unavailable(UnavailableReason),
}

enum Failure {
    Unavailable(UnavailableReason, String),
    TooLarge(usize),
    Other(String),
}

impl From<Failure> for CoreError {
    fn from(f: Failure) -> Self {
        match f {
            Failure::Unavailable(reason, detail) => {
                CoreError::KeychainUnavailable(format!("{}: {detail}", reason.code()))
            }
            Failure::TooLarge(n) => CoreError::KeychainTooLarge(n),
            Failure::Other(detail) => CoreError::Keychain(detail),
        }
    }
}

/// Sorts a keyring error into "unavailable (why)" or another failure.
fn classify(e: &keyring::Error) -> Failure {
    match e {
        keyring::Error::NoStorageAccess(inner) => {
            Failure::Unavailable(UnavailableReason::Locked, inner.to_string())
        }
        keyring::Error::PlatformFailure(inner) => {
            let text = educloud_contract::text::error_chain(inner.as_ref());
            let lower = text.to_lowercase();
            let reason = if lower.contains("serviceunknown")
                || lower.contains("was not provided by any")
                || lower.contains("secret service provider found")
            {
                UnavailableReason::NoProvider
            } else if lower.contains("autolaunch")
                || lower.contains("dbus_session_bus_address")
                || lower.contains("failed to connect to socket")
                || lower.contains("no such file or directory")
                || lower.contains("connection refused")
                || lower.contains("no dbus session")
            {
                UnavailableReason::NoBus
            } else if lower.contains("locked") {
                UnavailableReason::Locked
            } else {
                UnavailableReason::Failed
            };
            Failure::Unavailable(reason, text)
        }
        keyring::Error::TooLong(attr, limit) => {
            Failure::Other(format!("{attr} longer than {limit}"))
        }
        other => Failure::Other(other.to_string()),
    }
}

/// The OS keychain, seen as "one refresh token per account and service".
#[derive(Clone)]
pub struct SessionVault {
    service: String,
    timeout: Duration,
    /// `None`: keyring's platform default (macOS, Windows).
    builder: Option<Arc<CredentialBuilder>>,
}

impl std::fmt::Debug for SessionVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionVault")
            .field("service", &self.service)
            .finish()
    }
}

impl Default for SessionVault {
    fn default() -> Self {
        Self::os()
    }
}

impl SessionVault {
    /// The OS keychain under this build's [`SERVICE_NAME`].
    pub fn os() -> Self {
        SessionVault {
            service: SERVICE_NAME.to_string(),
            timeout: KEYCHAIN_TIMEOUT,
            builder: os_builder(),
        }
    }

    /// The OS keychain under another service name (tests that must not touch
    /// a developer's own entries).
    pub fn os_with_service(service: impl Into<String>) -> Self {
        SessionVault {
            service: service.into(),
            ..Self::os()
        }
    }

    /// A vault over a [`MockKeychain`] (tests only).
    #[cfg(any(test, feature = "testkit"))]
    pub fn mock(keychain: &MockKeychain) -> Self {
        SessionVault {
            service: SERVICE_NAME.to_string(),
            timeout: KEYCHAIN_TIMEOUT,
            builder: Some(Arc::new(keychain.clone())),
        }
    }

    /// Changes the per-call timeout (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    pub fn service(&self) -> &str {
        &self.service
    }

    async fn run<T, F>(&self, user: String, op: F) -> std::result::Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&keyring::Entry) -> keyring::Result<T> + Send + 'static,
    {
        let (service, builder) = (self.service.clone(), self.builder.clone());
        self.run_blocking(move || op(&entry(builder.as_deref(), &service, &user)?))
            .await
    }

    async fn run_blocking<T, F>(&self, op: F) -> std::result::Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce() -> keyring::Result<T> + Send + 'static,
    {
        let task = tokio::task::spawn_blocking(op);
        match tokio::time::timeout(self.timeout, task).await {
            Err(_) => {
                tracing::warn!(service = %self.service, "keychain call timed out");
                Err(Failure::Unavailable(
                    UnavailableReason::TimedOut,
                    format!("no answer within {:?}", self.timeout),
                ))
            }
            Ok(Err(join)) => Err(Failure::Other(format!("keychain task failed: {join}"))),
            Ok(Ok(Err(e))) => Err(classify(&e)),
            Ok(Ok(Ok(v))) => Ok(v),
        }
    }

    /// Checks that the keychain can store and delete an entry (a harmless
    /// probe value, removed at once).
    pub async fn probe(&self) -> VaultStatus {
        // A probe entry of its own (process and call): two probes at once
        // (two windows, parallel tests) must not race on one item, which
        // the Secret Service then reports as ambiguous.
        static PROBES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = PROBES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let user = format!("{PROBE_ACCOUNT}-{}-{n}", std::process::id());
        // The write goes the way `save` writes (on Linux it also opens the
        // kept connection a sign-in then uses).
        let result = self
            .run(user, |entry| {
                entry.set_password("probe")?;
                match entry.delete_credential() {
                    Ok(()) | Err(keyring::Error::NoEntry) => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .await;
        match result {
            Ok(()) => VaultStatus::Available,
            Err(Failure::Unavailable(reason, detail)) => {
                tracing::info!(reason = reason.code(), %detail, "keychain unavailable");
                VaultStatus::Unavailable(reason)
            }
            Err(Failure::TooLarge(_)) | Err(Failure::Other(_)) => {
                VaultStatus::Unavailable(UnavailableReason::Failed)
            }
        }
    }

    /// `account`'s session kept for `origin`; `Ok(None)` when there is none
    /// (or the entry names another origin).
    pub async fn load(&self, account: &str, origin: &str) -> Result<Option<StoredSession>> {
        self.load_user(entry_user(account, origin), origin).await
    }

    /// Stores (or replaces) `account`'s session issued by `origin`.
    pub async fn save(&self, account: &str, origin: &str, session: &StoredSession) -> Result<()> {
        self.save_user(entry_user(account, origin), origin, session)
            .await
    }

    /// Deletes `account`'s session kept for `origin`; `Ok(false)` when there
    /// was none.
    pub async fn delete(&self, account: &str, origin: &str) -> Result<bool> {
        self.delete_user(entry_user(account, origin)).await
    }

    /// Deletes an entry written before sessions were bound to their origin
    /// (user = the bare e-mail). Its token is never sent anywhere.
    pub async fn delete_unbound(&self, account: &str) -> Result<bool> {
        self.delete_user(account.to_string()).await
    }

    /// The refresh token still to be revoked at `origin` for `account`.
    pub async fn load_to_revoke(
        &self,
        account: &str,
        origin: &str,
    ) -> Result<Option<StoredSession>> {
        self.load_user(revoke_user(account, origin), origin).await
    }

    /// Keeps a refresh token to revoke at `origin` later.
    pub async fn save_to_revoke(
        &self,
        account: &str,
        origin: &str,
        session: &StoredSession,
    ) -> Result<()> {
        self.save_user(revoke_user(account, origin), origin, session)
            .await
    }

    /// Forgets a refresh token to revoke (revoked, or dead).
    pub async fn delete_to_revoke(&self, account: &str, origin: &str) -> Result<bool> {
        self.delete_user(revoke_user(account, origin)).await
    }

    async fn load_user(&self, user: String, origin: &str) -> Result<Option<StoredSession>> {
        let got = self
            .run(user, |entry| match entry.get_password() {
                Ok(v) => Ok(Some(v)),
                Err(keyring::Error::NoEntry) => Ok(None),
                Err(e) => Err(e),
            })
            .await?;
        let Some(text) = got else {
            return Ok(None);
        };
        let parsed: StoredJson = serde_json::from_str(&text)
            .map_err(|_| CoreError::Keychain("the stored entry is not ours".into()))?;
        if parsed.origin.as_deref() != Some(origin) {
            tracing::warn!(origin, "a keychain entry names another service; not used");
            return Ok(None);
        }
        Ok(Some(StoredSession {
            refresh_token: SecretString::from(parsed.refresh_token),
            expires_at: parsed.expires_at,
        }))
    }

    async fn save_user(&self, user: String, origin: &str, session: &StoredSession) -> Result<()> {
        let text = serde_json::to_string(&StoredJson {
            refresh_token: session.refresh_token.expose_secret().to_string(),
            expires_at: session.expires_at,
            origin: Some(origin.to_string()),
        })
        .map_err(|e| CoreError::Internal(e.to_string()))?;
        let text = SecretString::from(text);
        let len = stored_len(text.expose_secret(), BACKEND_UNITS);
        if len > MAX_ENTRY_BYTES {
            return Err(Failure::TooLarge(len).into());
        }
        self.run(user, move |entry| entry.set_password(text.expose_secret()))
            .await?;
        Ok(())
    }

    async fn delete_user(&self, user: String) -> Result<bool> {
        Ok(self
            .run(user, |entry| match entry.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring::Error::NoEntry) => Ok(false),
                Err(e) => Err(e),
            })
            .await?)
    }
}

/// Linux: the Secret Service with one kept connection for writes.
#[cfg(target_os = "linux")]
fn os_builder() -> Option<Arc<CredentialBuilder>> {
    Some(secret_service::KeptSecretService::builder())
}

/// Elsewhere: keyring's platform default.
#[cfg(not(target_os = "linux"))]
fn os_builder() -> Option<Arc<CredentialBuilder>> {
    None
}

/// The keyring entry of `user` (built by `builder` when there is one).
fn entry(
    builder: Option<&CredentialBuilder>,
    service: &str,
    user: &str,
) -> keyring::Result<keyring::Entry> {
    match builder {
        Some(b) => b
            .build(None, service, user)
            .map(keyring::Entry::new_with_credential),
        None => keyring::Entry::new(service, user),
    }
}

#[cfg(test)]
mod tests;
