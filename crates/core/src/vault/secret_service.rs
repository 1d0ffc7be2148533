//! Linux: the Secret Service as a keyring 3 [`CredentialBuilder`] whose
//! credentials write over ONE D-Bus connection and encrypted (DH) session
//! kept by the builder, as libsecret keeps its session.
//!
//! keyring 3 connects and negotiates a new session for every call — twice
//! for a write — which was most of a county sign-in's local overhead
//! (issue 7: ~13 of ~16 ms on an idle machine, ~26 under load). The items
//! are keyring's own ([`SsCredential`]'s attributes and label), so reads and
//! deletes go through keyring unchanged and find them: on a write the one
//! matching item gets the new secret, else one is created in the default
//! collection (unlocked first), several are `Ambiguous`. (keyring's
//! fallback to keyring-v1 items without a `target` is left out: this app
//! never wrote any.) A D-Bus failure on the kept connection (stale: the bus
//! or the daemon went away) drops it and the write is retried once on a
//! fresh one — not a refusal (locked, prompt dismissed), so no second
//! prompt; while the kept one is busy (a call waiting on an unlock prompt)
//! a write uses a connection of its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, TryLockError};

use dbus_secret_service::{EncryptionType, SecretService};
use keyring::credential::{Credential, CredentialApi, CredentialBuilder, CredentialBuilderApi};
use keyring::secret_service::{decode_error, SsCredential};

/// Builds Secret Service credentials that share one kept connection.
#[derive(Clone, Default)]
pub struct KeptSecretService {
    kept: Arc<Mutex<Option<SecretService>>>,
}

impl KeptSecretService {
    pub fn new() -> Self {
        Self::default()
    }

    /// As a keyring credential builder.
    pub fn builder() -> Arc<CredentialBuilder> {
        Arc::new(Self::new())
    }
}

impl CredentialBuilderApi for KeptSecretService {
    fn build(
        &self,
        target: Option<&str>,
        service: &str,
        user: &str,
    ) -> keyring::Result<Box<Credential>> {
        Ok(Box::new(KeptCredential {
            inner: SsCredential::new_with_target(target, service, user)?,
            kept: Arc::clone(&self.kept),
        }))
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// keyring's Secret Service credential; writes over the kept connection.
struct KeptCredential {
    inner: SsCredential,
    kept: Arc<Mutex<Option<SecretService>>>,
}

impl CredentialApi for KeptCredential {
    fn set_secret(&self, secret: &[u8]) -> keyring::Result<()> {
        let mut kept = match self.kept.try_lock() {
            Ok(guard) => guard,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) => return set_on(&connect()?, &self.inner, secret),
        };
        if let Some(ss) = kept.as_ref() {
            match set_on(ss, &self.inner, secret) {
                Err(e) if stale(&e) => *kept = None,
                done => return done,
            }
        }
        let ss = connect()?;
        set_on(&ss, &self.inner, secret)?;
        *kept = Some(ss);
        Ok(())
    }

    fn get_secret(&self) -> keyring::Result<Vec<u8>> {
        self.inner.get_secret()
    }

    fn delete_credential(&self) -> keyring::Result<()> {
        self.inner.delete_credential()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }

    fn debug_fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.inner.debug_fmt(f)
    }
}

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
