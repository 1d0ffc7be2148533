//! The background update check (tauri-plugin-updater, signatures verified
//! against `plugins.updater.pubkey`). It runs only when
//! `Policy::update_gate` allows it — never with `DisableUpdates`, in the
//! demo, in debug builds or under a developer/test service override — and
//! only in builds that have an update endpoint (the release workflow adds
//! it; `tauri.conf.json` has none). A found update is downloaded in the
//! background and installed when the app exits, so a lesson is never
//! interrupted by an installer.

use std::sync::{Arc, Mutex};

use educloud_core::desktop::Desktop;
use educloud_core::policy::{channel_endpoint, UpdateGate};
use educloud_core::settings::Origin;
use tauri::Manager;
use tauri_plugin_updater::{Update, UpdaterExt};

/// A downloaded, verified update waiting for the app to exit.
#[derive(Default)]
pub struct PendingUpdate(Mutex<Option<(Update, Vec<u8>)>>);

/// Checks once and downloads an update if one is offered.
pub async fn check_once(app: tauri::AppHandle, desktop: Arc<Desktop>) {
    let env = match desktop.environment() {
        Ok(env) => env,
        Err(e) => return tracing::warn!(error = %e, "update check: no environment"),
    };
    let policy = desktop.policy();
    let gate = policy.update_gate(
        env.value.kind,
        env.origin == Origin::Environment,
        cfg!(debug_assertions),
    );
    let UpdateGate::Allowed { channel } = gate else {
        return tracing::info!(?gate, "update check skipped");
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
        return tracing::info!("update check skipped: this build has no update endpoint");
    }
    // The updater's reqwest is not core's: parse the policy's PEM files here.
    let mut roots = Vec::new();
    match policy.extra_ca_pem() {
        Ok(files) => {
            for (path, pem) in files {
                match reqwest_updater::Certificate::from_pem_bundle(&pem) {
                    Ok(certs) => roots.extend(certs),
                    Err(e) => {
                        let path = path.display().to_string();
                        return tracing::warn!(error = %e, path, "update check skipped");
                    }
                }
            }
        }
        Err(e) => return tracing::warn!(error = %e, "update check skipped"),
    }
    let mut builder = match app.updater_builder().endpoints(endpoints) {
        Ok(b) => b,
        Err(e) => return tracing::warn!(error = %e, "update check skipped"),
    };
    if let Some(proxy) = policy
        .proxy_url
        .as_deref()
        .and_then(|p| url::Url::parse(p).ok())
    {
        builder = builder.proxy(proxy);
    }
    let builder = builder.configure_client(move |mut client| {
        for root in &roots {
            client = client.add_root_certificate(root.clone());
        }
        client
    });
    let update = match builder.build() {
        Ok(updater) => updater.check().await,
        Err(e) => return tracing::warn!(error = %e, "update check skipped"),
    };
    match update {
        Ok(Some(update)) => {
            tracing::info!(version = %update.version, channel = %channel, "update available, downloading");
            match update.download(|_, _| {}, || {}).await {
                Ok(bytes) => {
                    if let Some(slot) = app.try_state::<PendingUpdate>() {
                        *slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((update, bytes));
                    }
                    tracing::info!("update downloaded; it is installed when the app exits");
                }
                Err(e) => tracing::warn!(error = %e, "update download failed"),
            }
        }
        Ok(None) => tracing::info!(channel = %channel, "no update"),
        Err(e) => tracing::warn!(error = %e, "update check failed"),
    }
}

/// Installs a downloaded update; call on `RunEvent::Exit`. (On Windows the
/// installer runs in passive mode and this process ends.)
pub fn install_pending(app: &tauri::AppHandle) {
    let pending = app
        .try_state::<PendingUpdate>()
        .and_then(|slot| slot.0.lock().unwrap_or_else(|p| p.into_inner()).take());
    if let Some((update, bytes)) = pending {
        tracing::info!(version = %update.version, "installing the downloaded update");
        if let Err(e) = update.install(bytes) {
            tracing::warn!(error = %e, "update install failed");
        }
    }
}
