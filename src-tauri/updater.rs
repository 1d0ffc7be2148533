//! The update check (tauri-plugin-updater, signatures verified against
//! `plugins.updater.pubkey`). It runs only when `Policy::update_gate`
//! allows it — never with `DisableUpdates`, in the demo, in debug builds or
//! under a developer/test service override — and only in builds that have
//! an update endpoint (the release workflow adds it; `tauri.conf.json` has
//! none).
//!
//! Network: the same trust and proxy as every other request of the app —
//! the plugin's HTTP client (reqwest 0.13) gets core's rustls setup (the OS
//! trust store plus `ExtraCaCertificates`, [`educloud_core::net::tls`]) and
//! the policy's `ProxyUrl`/`ProxyBypass` (else the system proxy). The
//! manifest is first fetched by core with a size cap
//! ([`educloud_core::net::fetch_update_manifest`]); the plugin then reads it
//! again itself (it reads whole answers: bounded here by [`CHECK_TIMEOUT`],
//! not by size), and the package download is cut off at
//! [`limits::UPDATE_PACKAGE`] bytes.
//!
//! The user is always told: a downloaded update is announced (the 關於
//! screen's 有新版本，重新啟動後更新 with 立即重新啟動, [`pending_version`]),
//! and it is installed only by 立即重新啟動 or, once announced, when the
//! app exits — never an install the user was not told about.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use educloud_core::desktop::Desktop;
use educloud_core::net::{self, limits};
use educloud_core::policy::{channel_endpoint, UpdateGate};
use educloud_core::settings::Origin;
use tauri::Manager;
use tauri_plugin_updater::{Update, UpdaterExt};

/// How long the plugin's own manifest request may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

struct Pending {
    update: Update,
    bytes: Vec<u8>,
}

/// The downloaded update and whether the user was told about it: only a
/// told one is ever handed out for installing.
struct Told<T> {
    value: T,
    told: bool,
}

struct Slot<T>(Option<Told<T>>);

impl<T> Default for Slot<T> {
    fn default() -> Self {
        Slot(None)
    }
}

impl<T> Slot<T> {
    /// A new download, not yet shown to anybody.
    fn put(&mut self, value: T) {
        self.0 = Some(Told { value, told: false });
    }

    fn peek(&self) -> Option<&T> {
        self.0.as_ref().map(|t| &t.value)
    }

    /// The UI shows it: from now on it may be installed.
    fn tell(&mut self) -> Option<&T> {
        self.0.as_mut().map(|t| {
            t.told = true;
            &t.value
        })
    }

    /// The update to install — only one the user was told about.
    fn take_told(&mut self) -> Option<T> {
        match self.0 {
            Some(Told { told: true, .. }) => self.0.take().map(|t| t.value),
            _ => None,
        }
    }
}

/// A downloaded, verified update waiting for 立即重新啟動 or the app's exit.
#[derive(Default)]
pub struct PendingUpdate {
    slot: Mutex<Slot<Pending>>,
    /// One check at a time: a 檢查更新 during the background check waits
    /// for it.
    checking: tokio::sync::Mutex<()>,
}

/// What a check did, for the log and the 關於 screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckOutcome {
    /// Skipped: `policy`, `demo`, `debug`, `override`, `no_endpoint`.
    Skipped(&'static str),
    /// No newer version.
    UpToDate,
    /// Downloaded (or already waiting): this version.
    Downloaded(String),
    /// The check or the download failed (a core error code).
    Failed(String),
}

/// Checks once and downloads an update if one is offered.
pub async fn check_once(app: tauri::AppHandle, desktop: Arc<Desktop>) -> CheckOutcome {
    let Some(state) = app.try_state::<PendingUpdate>() else {
        return CheckOutcome::Skipped("no updater");
    };
    let _one_at_a_time = state.checking.lock().await;
    let outcome = check_inner(&app, &desktop, &state).await;
    match &outcome {
        CheckOutcome::Failed(code) => tracing::warn!(code, "update check failed"),
        other => tracing::info!(?other, "update check"),
    }
    outcome
}

async fn check_inner(
    app: &tauri::AppHandle,
    desktop: &Desktop,
    state: &PendingUpdate,
) -> CheckOutcome {
    if let Some(version) = waiting_version(state) {
        return CheckOutcome::Downloaded(version);
    }
    let env = match desktop.environment() {
        Ok(env) => env,
        Err(e) => return CheckOutcome::Failed(e.code().to_string()),
    };
    let policy = desktop.policy();
    let gate = policy.update_gate(
        env.value.kind,
        env.origin == Origin::Environment,
        cfg!(debug_assertions),
    );
    let channel = match gate {
        UpdateGate::Allowed { channel } => channel,
        UpdateGate::DisabledByPolicy => return CheckOutcome::Skipped("policy"),
        UpdateGate::DemoEnvironment => return CheckOutcome::Skipped("demo"),
        UpdateGate::Development if env.origin == Origin::Environment => {
            return CheckOutcome::Skipped("override")
        }
        UpdateGate::Development => return CheckOutcome::Skipped("debug"),
    };
    let endpoints: Vec<url::Url> = app
        .config()
        .plugins
        .0
        .get("updater")
        .and_then(|u| u.get("endpoints"))
        .and_then(|e| e.as_array())
        .into_iter()
        .flatten()
        .filter_map(|e| e.as_str())
        .filter_map(|e| url::Url::parse(&channel_endpoint(e, channel)).ok())
        .collect();
    if endpoints.is_empty() {
        return CheckOutcome::Skipped("no_endpoint");
    }
    // Core's client first: the same trust and proxy as the app, a size cap.
    let http = match net::download_client(policy) {
        Ok(h) => h,
        Err(e) => return CheckOutcome::Failed(e.code().to_string()),
    };
    for endpoint in endpoints.iter().filter(|e| !e.as_str().contains("{{")) {
        if let Err(e) = net::fetch_update_manifest(&http, endpoint).await {
            tracing::warn!(error = %e, %endpoint, "update manifest refused");
            return CheckOutcome::Failed(e.code().to_string());
        }
    }
    let tls = match net::tls::client_config(policy) {
        Ok(c) => c,
        Err(e) => return CheckOutcome::Failed(e.code().to_string()),
    };
    let proxy = match updater_proxy(policy) {
        Ok(p) => p,
        Err(e) => return CheckOutcome::Failed(e.code().to_string()),
    };
    let builder = match app.updater_builder().endpoints(endpoints) {
        Ok(b) => b,
        Err(e) => return CheckOutcome::Failed(format!("updater: {e}")),
    };
    let builder = builder.configure_client(move |client| {
        let client = client.tls_backend_preconfigured((*tls).clone());
        match &proxy {
            Some(p) => client.proxy(p.clone()),
            None => client,
        }
    });
    let updater = match builder.build() {
        Ok(u) => u,
        Err(e) => return CheckOutcome::Failed(format!("updater: {e}")),
    };
    let update = match tokio::time::timeout(CHECK_TIMEOUT, updater.check()).await {
        Ok(Ok(Some(update))) => update,
        Ok(Ok(None)) => return CheckOutcome::UpToDate,
        Ok(Err(e)) => return CheckOutcome::Failed(format!("updater: {e}")),
        Err(_) => return CheckOutcome::Failed("network.unreachable".into()),
    };
    tracing::info!(version = %update.version, channel = %channel, "update available, downloading");
    let bytes = match download_capped(&update, limits::UPDATE_PACKAGE).await {
        Ok(bytes) => bytes,
        Err(code) => return CheckOutcome::Failed(code),
    };
    let version = update.version.clone();
    state
        .slot
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .put(Pending { update, bytes });
    // The window shows 有新版本，重新啟動後更新 (it reads the version back
    // through `pending_version`, which is what marks it as told).
    let _ = tauri::Emitter::emit(
        app,
        "update-ready",
        serde_json::json!({ "status": "downloaded", "version": version }),
    );
    CheckOutcome::Downloaded(version)
}

/// The policy's proxy for the updater's reqwest (the same parse as core's).
fn updater_proxy(
    policy: &educloud_core::policy::Policy,
) -> educloud_core::Result<Option<reqwest_updater::Proxy>> {
    let Some(p) = net::proxy::policy_proxy(policy)? else {
        return Ok(None);
    };
    let mut proxy = reqwest_updater::Proxy::all(p.url.as_str())
        .map_err(|e| educloud_core::CoreError::Internal(format!("ProxyUrl: {e}")))?;
    if let Some((user, password)) = p.basic_auth() {
        proxy = proxy.basic_auth(user, password);
    }
    Ok(Some(proxy.no_proxy(reqwest_updater::NoProxy::from_string(
        &p.no_proxy,
    ))))
}

/// Downloads the package; past `limit` bytes the download is dropped (its
/// buffer with it) and fails with `network.response_too_large`.
async fn download_capped(update: &Update, limit: u64) -> Result<Vec<u8>, String> {
    let received = AtomicU64::new(0);
    let over = tokio::sync::Notify::new();
    let download = update.download(
        |chunk, declared| {
            let total = received.fetch_add(chunk as u64, Ordering::Relaxed) + chunk as u64;
            if total > limit || declared.is_some_and(|d| d > limit) {
                over.notify_one();
            }
        },
        || {},
    );
    tokio::select! {
        result = download => result.map_err(|e| {
            tracing::warn!(error = %e, "update download failed");
            "network.bad_response".to_string()
        }),
        _ = over.notified() => {
            tracing::warn!(limit, "update package larger than the cap; download dropped");
            Err("network.response_too_large".to_string())
        }
    }
}

fn waiting_version(state: &PendingUpdate) -> Option<String> {
    let slot = state.slot.lock().unwrap_or_else(|p| p.into_inner());
    slot.peek().map(|p| p.update.version.clone())
}

/// The version of a downloaded update waiting for a restart, if any — what
/// the 關於 screen and the 有新版本，重新啟動後更新 notice show. Reading it
/// counts as telling the user: from then on the update is also installed
/// when the app exits.
pub fn pending_version(app: &tauri::AppHandle) -> Option<String> {
    let state = app.try_state::<PendingUpdate>()?;
    let mut slot = state.slot.lock().unwrap_or_else(|p| p.into_inner());
    slot.tell().map(|p| p.update.version.clone())
}

/// Installs the downloaded update if the user was told about it (立即重新
/// 啟動, or the app's exit after the notice). On Windows the installer runs
/// in passive mode and this process ends.
pub fn install_pending(app: &tauri::AppHandle) {
    let Some(state) = app.try_state::<PendingUpdate>() else {
        return;
    };
    let pending = {
        let mut slot = state.slot.lock().unwrap_or_else(|p| p.into_inner());
        let pending = slot.take_told();
        if let (None, Some(p)) = (&pending, slot.peek()) {
            tracing::info!(version = %p.update.version, "a downloaded update was never shown: not installed");
        }
        pending
    };
    if let Some(p) = pending {
        tracing::info!(version = %p.update.version, "installing the downloaded update");
        if let Err(e) = p.update.install(p.bytes) {
            tracing::warn!(error = %e, "update install failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Slot;

    /// Issue 13 item 6: nothing the user was not told about is installed.
    #[test]
    fn only_an_update_the_user_was_told_about_is_handed_out() {
        let mut slot = Slot::default();
        assert_eq!(slot.take_told(), None::<&str>);
        slot.put("1.2.0");
        assert_eq!(slot.peek(), Some(&"1.2.0"));
        assert_eq!(slot.take_told(), None, "downloaded but never shown");
        assert_eq!(slot.peek(), Some(&"1.2.0"), "still waiting");
        assert_eq!(slot.tell(), Some(&"1.2.0"));
        assert_eq!(slot.take_told(), Some("1.2.0"));
        assert_eq!(slot.peek(), None);
        // A newer download replaces it and must be told again.
        slot.put("1.2.0");
        slot.tell();
        slot.put("1.3.0");
        assert_eq!(slot.take_told(), None);
    }
}
