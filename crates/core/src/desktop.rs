//! [`Desktop`]: the core state one app process (window or CLI) holds — its
//! folders, store, policy, browser launcher and the Education Cloud service
//! it talks to. The Tauri shell and the CLI both build one of these and call
//! the same functions on it.

use std::sync::Arc;

use tokio::sync::OnceCell;
use url::Url;

use crate::browser::{BrowserOpener, SystemBrowser};
use crate::paths::AppPaths;
use crate::policy::{EnvironmentKind, LoadedPolicy, Policy};
use crate::store::Store;
use crate::{settings, CoreError, Result};

/// The Education Cloud service this process talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceEndpoint {
    pub kind: EnvironmentKind,
    pub base_url: Url,
}

pub struct Desktop {
    pub paths: AppPaths,
    pub store: Store,
    policy: LoadedPolicy,
    pub browser: Arc<dyn BrowserOpener>,
    service: OnceCell<ServiceEndpoint>,
}

impl Desktop {
    /// Opens the store under `paths` and reads the policy.
    pub fn open(paths: AppPaths, policy: LoadedPolicy) -> Result<Self> {
        paths.ensure()?;
        let store = Store::open(&paths.database())?;
        let browser = Arc::new(SystemBrowser::new(
            policy.browser_command().map(str::to_string),
        ));
        Ok(Desktop {
            paths,
            store,
            policy,
            browser,
            service: OnceCell::new(),
        })
    }

    /// The policy in force (what every rule of the app asks).
    pub fn policy(&self) -> &Policy {
        self.policy.policy()
    }

    /// The policy with its sources and problems (for `doctor` and the
    /// diagnostics view).
    pub fn loaded_policy(&self) -> &LoadedPolicy {
        &self.policy
    }

    /// Replaces the browser launcher (tests).
    pub fn with_browser(mut self, browser: Arc<dyn BrowserOpener>) -> Self {
        self.browser = browser;
        self
    }

    /// The resolved environment choice (before any sandbox is started).
    pub fn environment(&self) -> Result<settings::Resolved<settings::EnvironmentChoice>> {
        settings::environment(&self.policy, &self.store)
    }

    /// Whether the user must choose the service first (a release build's
    /// first run: no policy, no earlier choice). The window shows the
    /// first-run screen; nothing connects until then.
    pub fn needs_service_choice(&self) -> Result<bool> {
        settings::needs_service_choice(&self.policy, &self.store)
    }

    /// Sets the service once it is known (the embedded sandbox's URL, or the
    /// configured one). Later calls are ignored.
    pub fn set_service(&self, endpoint: ServiceEndpoint) {
        let _ = self.service.set(endpoint);
    }

    /// The service, once known.
    pub fn service(&self) -> Option<&ServiceEndpoint> {
        self.service.get()
    }

    /// Waits until the service is known (the embedded sandbox starts in the
    /// background so the window is not delayed).
    pub async fn wait_service(&self) -> Result<&ServiceEndpoint> {
        for _ in 0..200 {
            if let Some(s) = self.service.get() {
                return Ok(s);
            }
            if self.needs_service_choice()? {
                return Err(CoreError::ServiceNotChosen);
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        Err(CoreError::Unreachable {
            what: "Education Cloud".into(),
            detail: "the service did not start".into(),
        })
    }
}
