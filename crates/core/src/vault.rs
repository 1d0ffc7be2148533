//! [`SessionVault`]: the only place a token rests — the Education Cloud
//! refresh token of a user who chose 保持登入狀態, in the OS keychain
//! (Windows Credential Manager, macOS Keychain, Linux Secret Service through
//! `keyring` 3).
//!
//! - Service name `tw.edu.cloud.desktop` in release builds,
//!   `tw.edu.cloud.desktop.dev` in debug builds (a developer's build never
//!   touches the installed app's entries); account = the Education Cloud
//!   e-mail; value = JSON `{refresh_token, expires_at}`, at most
//!   [`MAX_ENTRY_BYTES`] (Windows' limit) or `keychain.too_large`.
//! - Every keyring call runs in `spawn_blocking` with a [`KEYCHAIN_TIMEOUT`]:
//!   a Secret Service call can wait forever on an unlock prompt.
//! - Linux: writes (a sign-in's, a rotation's, the probe's) go over one
//!   Secret Service connection and encrypted session kept for the process,
//!   as libsecret does, instead of keyring's two new ones per write (see
//!   `kept`); reads and deletes stay keyring's.
//! - No keychain → [`VaultStatus::Unavailable`] with a reason the UI shows
//!   next to the disabled checkbox. There is no plaintext fallback.
//! - [`MockKeychain`] is an in-process stand-in with the keyring API, for
//!   tests only (the app never constructs one).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyring::credential::{Credential, CredentialApi, CredentialBuilder, CredentialBuilderApi};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

use crate::{CoreError, Result};

/// The keychain service name of this build.
pub const SERVICE_NAME: &str = if cfg!(debug_assertions) {
    "tw.edu.cloud.desktop.dev"
} else {
    "tw.edu.cloud.desktop"
};

/// Windows Credential Manager's cap on a secret.
pub const MAX_ENTRY_BYTES: usize = 2560;

/// The longest a keychain call may take.
pub const KEYCHAIN_TIMEOUT: Duration = Duration::from_secs(5);

const PROBE_ACCOUNT: &str = "educloud-keychain-probe";

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
            let text = error_chain(inner.as_ref());
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

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

/// The OS keychain, seen as "one refresh token per account".
#[derive(Clone)]
pub struct SessionVault {
    service: String,
    timeout: Duration,
    builder: Option<Arc<CredentialBuilder>>,
}

impl std::fmt::Debug for SessionVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionVault")
            .field("service", &self.service)
            .field("mock", &self.builder.is_some())
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
            builder: None,
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

    async fn run<T, F>(&self, account: &str, op: F) -> std::result::Result<T, Failure>
    where
        T: Send + 'static,
        F: FnOnce(&keyring::Entry) -> keyring::Result<T> + Send + 'static,
    {
        let service = self.service.clone();
        let account = account.to_string();
        let builder = self.builder.clone();
        self.run_blocking(move || op(&entry(builder.as_deref(), &service, &account)?))
            .await
    }

    /// Writes `secret` as `account`'s entry (keyring's `set_password`; on
    /// Linux over the kept Secret Service connection).
    async fn run_set(
        &self,
        account: &str,
        secret: SecretString,
    ) -> std::result::Result<(), Failure> {
        let service = self.service.clone();
        let account = account.to_string();
        let builder = self.builder.clone();
        self.run_blocking(move || {
            set_password(
                builder.as_deref(),
                &service,
                &account,
                secret.expose_secret(),
            )
        })
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
        let account = format!("{PROBE_ACCOUNT}-{}-{n}", std::process::id());
        // The write goes the way `save` writes (on Linux it also opens the
        // kept connection a sign-in then uses).
        let (service, builder) = (self.service.clone(), self.builder.clone());
        let result = self
            .run_blocking(move || {
                set_password(builder.as_deref(), &service, &account, "probe")?;
                match entry(builder.as_deref(), &service, &account)?.delete_credential() {
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

    /// The stored session of `account`; `Ok(None)` when there is none.
    pub async fn load(&self, account: &str) -> Result<Option<StoredSession>> {
        let got = self
            .run(account, |entry| match entry.get_password() {
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
        Ok(Some(StoredSession {
            refresh_token: SecretString::from(parsed.refresh_token),
            expires_at: parsed.expires_at,
        }))
    }

    /// Stores (or replaces) `account`'s session.
    pub async fn save(&self, account: &str, session: &StoredSession) -> Result<()> {
        let text = serde_json::to_string(&StoredJson {
            refresh_token: session.refresh_token.expose_secret().to_string(),
            expires_at: session.expires_at,
        })
        .map_err(|e| CoreError::Internal(e.to_string()))?;
        let text = SecretString::from(text);
        let len = text.expose_secret().len();
        if len > MAX_ENTRY_BYTES {
            return Err(Failure::TooLarge(len).into());
        }
        self.run_set(account, text).await?;
        Ok(())
    }

    /// Deletes `account`'s entry; `Ok(false)` when there was none.
    pub async fn delete(&self, account: &str) -> Result<bool> {
        Ok(self
            .run(account, |entry| match entry.delete_credential() {
                Ok(()) => Ok(true),
                Err(keyring::Error::NoEntry) => Ok(false),
                Err(e) => Err(e),
            })
            .await?)
    }
}

/// The keyring entry of `account` (the mock's when there is a builder).
fn entry(
    builder: Option<&CredentialBuilder>,
    service: &str,
    account: &str,
) -> keyring::Result<keyring::Entry> {
    match builder {
        Some(b) => b
            .build(None, service, account)
            .map(keyring::Entry::new_with_credential),
        None => keyring::Entry::new(service, account),
    }
}

/// keyring's `set_password` on `account`'s entry; on Linux, without a mock,
/// over the kept Secret Service connection ([`kept::set_password`]).
fn set_password(
    builder: Option<&CredentialBuilder>,
    service: &str,
    account: &str,
    secret: &str,
) -> keyring::Result<()> {
    #[cfg(target_os = "linux")]
    if builder.is_none() {
        return kept::set_password(service, account, secret);
    }
    entry(builder, service, account)?.set_password(secret)
}

/// Linux: Secret Service writes over ONE D-Bus connection and encrypted
/// (DH) session kept for the process, as libsecret keeps its session.
/// keyring 3 connects and negotiates a new session for every call — twice
/// for a write — which was most of a county sign-in's local overhead
/// (issue 7: ~13 of ~16 ms on an idle machine, ~26 under load). Same item
/// as keyring's `set_password` (its attributes and label, from
/// `SsCredential`), so keyring's reads and deletes find it: the one
/// matching item gets the new secret, else one is created in the default
/// collection (unlocked first), several are `Ambiguous`. (keyring's
/// fallback to keyring-v1 items without a `target` is left out: this app
/// never wrote any.) A D-Bus failure on the kept connection (stale: the
/// bus or the daemon went away) drops it and the write is retried once on a
/// fresh one — not a refusal (locked, prompt dismissed), so no second
/// prompt; while the kept one is busy (a call waiting on an unlock prompt)
/// a write uses a connection of its own.
#[cfg(target_os = "linux")]
mod kept {
    use std::collections::HashMap;
    use std::sync::{Mutex, TryLockError};

    use dbus_secret_service::{EncryptionType, SecretService};
    use keyring::credential::Credential;
    use keyring::secret_service::{decode_error, SsCredential};

    static KEPT: Mutex<Option<SecretService>> = Mutex::new(None);

    fn platform_failure(e: dbus_secret_service::Error) -> keyring::Error {
        keyring::Error::PlatformFailure(Box::new(e))
    }

    /// A D-Bus-level failure (not an answer of the Secret Service).
    fn stale(e: &keyring::Error) -> bool {
        let inner = match e {
            keyring::Error::PlatformFailure(b) | keyring::Error::NoStorageAccess(b) => b,
            _ => return false,
        };
        matches!(
            inner.downcast_ref::<dbus_secret_service::Error>(),
            Some(dbus_secret_service::Error::Dbus(_))
        )
    }

    fn connect() -> keyring::Result<SecretService> {
        SecretService::connect(EncryptionType::Dh).map_err(platform_failure)
    }

    fn set_on(ss: &SecretService, cred: &SsCredential, secret: &[u8]) -> keyring::Result<()> {
        // keyring's search: target, service and username.
        let search: HashMap<&str, &str> = ["target", "service", "username"]
            .into_iter()
            .filter_map(|k| cred.attributes.get(k).map(|v| (k, v.as_str())))
            .collect();
        let found = ss.search_items(search).map_err(decode_error)?;
        match (found.unlocked.as_slice(), found.locked.as_slice()) {
            ([item], []) => item.set_secret(secret, "text/plain").map_err(decode_error),
            ([], [item]) => {
                item.unlock().map_err(decode_error)?;
                item.set_secret(secret, "text/plain").map_err(decode_error)
            }
            ([], []) => {
                let collection = ss.get_default_collection().map_err(decode_error)?;
                if collection.is_locked().map_err(decode_error)? {
                    collection.unlock().map_err(decode_error)?;
                }
                let attributes = cred
                    .attributes
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                collection
                    .create_item(&cred.label, attributes, secret, true, "text/plain")
                    .map_err(platform_failure)?;
                Ok(())
            }
            (unlocked, locked) => {
                let mut creds: Vec<Box<Credential>> = Vec::new();
                for item in locked.iter().chain(unlocked) {
                    creds.push(Box::new(SsCredential::new_from_item(item)?));
                }
                Err(keyring::Error::Ambiguous(creds))
            }
        }
    }

    pub(super) fn set_password(service: &str, account: &str, secret: &str) -> keyring::Result<()> {
        let cred = SsCredential::new_with_target(None, service, account)?;
        let secret = secret.as_bytes();
        let mut kept = match KEPT.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return set_on(&connect()?, &cred, secret),
        };
        if let Some(ss) = kept.as_ref() {
            match set_on(ss, &cred, secret) {
                Err(e) if stale(&e) => *kept = None,
                done => return done,
            }
        }
        let ss = connect()?;
        set_on(&ss, &cred, secret)?;
        *kept = Some(ss);
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// MockKeychain: tests only.
// ---------------------------------------------------------------------------

/// A failure a [`MockKeychain`] can simulate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockFault {
    /// Like Secret Service with a locked collection.
    Locked,
    /// Like Linux without a session bus.
    NoBus,
    /// Like a keychain waiting on a prompt nobody answers.
    Hang(Duration),
}

#[derive(Default)]
struct MockState {
    entries: HashMap<(String, String), Vec<u8>>,
    fault: Option<MockFault>,
    writes: u64,
}

/// An in-process credential store with the keyring API, shared between all
/// entries built from it (keyring's own mock is per entry). Tests only.
#[derive(Clone, Default)]
pub struct MockKeychain {
    state: Arc<Mutex<MockState>>,
}

impl std::fmt::Debug for MockKeychain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MockKeychain")
    }
}

impl MockKeychain {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MockState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Makes every later call fail (or hang) like `fault`.
    pub fn set_fault(&self, fault: Option<MockFault>) {
        self.lock().fault = fault;
    }

    /// The raw stored value (for assertions).
    pub fn raw(&self, service: &str, account: &str) -> Option<String> {
        self.lock()
            .entries
            .get(&(service.to_string(), account.to_string()))
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of successful writes so far.
    pub fn writes(&self) -> u64 {
        self.lock().writes
    }
}

struct MockCredential {
    keychain: MockKeychain,
    key: (String, String),
}

impl MockCredential {
    fn check_fault(&self) -> keyring::Result<()> {
        let fault = self.keychain.lock().fault;
        match fault {
            None => Ok(()),
            Some(MockFault::Locked) => Err(keyring::Error::NoStorageAccess(
                "mock: collection is locked".into(),
            )),
            Some(MockFault::NoBus) => Err(keyring::Error::PlatformFailure(
                "mock: Unable to autolaunch a dbus-daemon without a $DISPLAY for X11".into(),
            )),
            Some(MockFault::Hang(d)) => {
                std::thread::sleep(d);
                Ok(())
            }
        }
    }
}

impl CredentialApi for MockCredential {
    fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
        self.check_fault()?;
        let mut s = self.keychain.lock();
        s.entries.insert(self.key.clone(), secret.to_vec());
        s.writes += 1;
        Ok(())
    }

    fn get_secret(&self) -> keyring::Result<Vec<u8>> {
        self.check_fault()?;
        self.keychain
            .lock()
            .entries
            .get(&self.key)
            .cloned()
            .ok_or(keyring::Error::NoEntry)
    }

    fn delete_credential(&self) -> keyring::Result<()> {
        self.check_fault()?;
        self.keychain
            .lock()
            .entries
            .remove(&self.key)
            .map(|_| ())
            .ok_or(keyring::Error::NoEntry)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn debug_fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MockCredential({}, {})", self.key.0, self.key.1)
    }
}

impl CredentialBuilderApi for MockKeychain {
    fn build(
        &self,
        _target: Option<&str>,
        service: &str,
        user: &str,
    ) -> keyring::Result<Box<Credential>> {
        Ok(Box::new(MockCredential {
            keychain: self.clone(),
            key: (service.to_string(), user.to_string()),
        }))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(token: &str) -> StoredSession {
        StoredSession {
            refresh_token: SecretString::from(token.to_string()),
            expires_at: 1_900_000_000,
        }
    }

    #[test]
    fn debug_builds_use_the_dev_service_name() {
        assert_eq!(
            SERVICE_NAME,
            if cfg!(debug_assertions) {
                "tw.edu.cloud.desktop.dev"
            } else {
                "tw.edu.cloud.desktop"
            }
        );
        assert!(!format!("{:?}", session("rt-secret")).contains("rt-secret"));
    }

    #[tokio::test]
    async fn mock_round_trip_and_no_entry_is_none() {
        let kc = MockKeychain::new();
        let v = SessionVault::mock(&kc);
        assert!(v.load("a@mail.edu.tw").await.unwrap().is_none());
        v.save("a@mail.edu.tw", &session("rt-1")).await.unwrap();
        let raw = kc.raw(SERVICE_NAME, "a@mail.edu.tw").unwrap();
        let json: serde_json::Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(json["refresh_token"], "rt-1");
        assert_eq!(json["expires_at"], 1_900_000_000);
        v.save("a@mail.edu.tw", &session("rt-2")).await.unwrap();
        let got = v.load("a@mail.edu.tw").await.unwrap().unwrap();
        assert_eq!(got.refresh_token.expose_secret(), "rt-2");
        assert_eq!(kc.len(), 1);
        assert!(v.delete("a@mail.edu.tw").await.unwrap());
        assert!(!v.delete("a@mail.edu.tw").await.unwrap());
        assert!(kc.is_empty());
    }

    #[tokio::test]
    async fn mock_too_large_is_refused_before_any_write() {
        let kc = MockKeychain::new();
        let v = SessionVault::mock(&kc);
        let big = "x".repeat(MAX_ENTRY_BYTES);
        let err = v.save("a@b.tw", &session(&big)).await.unwrap_err();
        assert_eq!(err.code(), "keychain.too_large");
        assert_eq!(kc.writes(), 0);
        // Just under the cap fits.
        let fits = "x".repeat(MAX_ENTRY_BYTES - 60);
        v.save("a@b.tw", &session(&fits)).await.unwrap();
    }

    #[tokio::test]
    async fn mock_faults_become_unavailable_reasons() {
        let kc = MockKeychain::new();
        let v = SessionVault::mock(&kc).with_timeout(Duration::from_millis(200));
        assert_eq!(v.probe().await, VaultStatus::Available);
        assert!(kc.is_empty(), "the probe cleans up");
        kc.set_fault(Some(MockFault::Locked));
        assert_eq!(
            v.probe().await,
            VaultStatus::Unavailable(UnavailableReason::Locked)
        );
        kc.set_fault(Some(MockFault::NoBus));
        assert_eq!(
            v.probe().await,
            VaultStatus::Unavailable(UnavailableReason::NoBus)
        );
        let err = v.load("a@b.tw").await.unwrap_err();
        assert_eq!(err.code(), "keychain.unavailable");
        assert!(err.to_string().contains("keychain.no_bus"), "{err}");
        kc.set_fault(Some(MockFault::Hang(Duration::from_secs(2))));
        let started = std::time::Instant::now();
        assert_eq!(
            v.probe().await,
            VaultStatus::Unavailable(UnavailableReason::TimedOut)
        );
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn platform_messages_are_sorted_into_reasons() {
        let pf = |m: &str| keyring::Error::PlatformFailure(m.to_string().into());
        let reason = |e: keyring::Error| match classify(&e) {
            Failure::Unavailable(r, _) => Some(r),
            _ => None,
        };
        assert_eq!(
            reason(pf("DBus error: The name org.freedesktop.secrets was not provided by any .service files")),
            Some(UnavailableReason::NoProvider)
        );
        assert_eq!(
            reason(pf(
                "DBus error: Unable to autolaunch a dbus-daemon without a $DISPLAY for X11"
            )),
            Some(UnavailableReason::NoBus)
        );
        assert_eq!(
            reason(pf("something else")),
            Some(UnavailableReason::Failed)
        );
        assert_eq!(reason(keyring::Error::NoEntry), None);
    }
}
