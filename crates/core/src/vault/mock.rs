//! [`MockKeychain`]: an in-process credential store with the keyring API,
//! shared between all entries built from it (keyring's own mock is per
//! entry). Compiled only for this crate's unit tests and, through the
//! `testkit` feature, for its integration tests and benches — never into
//! the app.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyring::credential::{Credential, CredentialApi, CredentialBuilderApi};
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

    /// The raw stored value of `account`'s kept session (for assertions):
    /// the entry named `account` or `account` and the service origin it is
    /// bound to ([`super::entry_user`]).
    pub fn raw(&self, service: &str, account: &str) -> Option<String> {
        let bound = format!("{account} ");
        self.lock()
            .entries
            .iter()
            .find(|((s, u), _)| s == service && (u == account || u.starts_with(&bound)))
            .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
    }

    /// The names (keychain users) of the entries under `service`.
    pub fn users(&self, service: &str) -> Vec<String> {
        let mut users: Vec<String> = self
            .lock()
            .entries
            .keys()
            .filter(|(s, _)| s == service)
            .map(|(_, u)| u.clone())
            .collect();
        users.sort();
        users
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
