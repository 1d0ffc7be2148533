//! The window: builds the Tauri app around one core [`Desktop`], starts the
//! embedded sandbox in the background when the environment is the demo, and
//! enforces a single instance (a second launch focuses the first).

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use educloud_core::desktop::Desktop;
use educloud_core::session::SessionState;
use educloud_core::vault::SessionVault;
use tauri::{Manager, RunEvent};

use crate::commands::{self, signin::PendingSignIn, LaunchClock};

/// Keeps the embedded sandbox alive for the process's life.
struct EmbeddedSandbox(Mutex<Option<educloud_sandbox::SandboxHandle>>);

pub fn run(desktop: Desktop, started: Instant) -> ExitCode {
    let desktop = Arc::new(desktop);
    let session = Arc::new(SessionState::new(SessionVault::os()));
    let shared_device = desktop.policy.policy.shared_device();
    let on_exit = (Arc::clone(&desktop), Arc::clone(&session));
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            if let Some(w) = app.get_webview_window("main") {
                let _ = w.unminimize();
                let _ = w.show();
                let _ = w.set_focus();
            }
        }))
        .manage(desktop.clone())
        .manage(session)
        .manage(PendingSignIn::default())
        .manage(LaunchClock(started))
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(crate::updater::PendingUpdate::default())
        .manage(EmbeddedSandbox(Mutex::new(None)))
        .invoke_handler(commands::handler())
        .setup(move |app| {
            let handle = app.handle().clone();
            let desktop = desktop.clone();
            tauri::async_runtime::spawn(crate::updater::check_once(
                handle.clone(),
                desktop.clone(),
            ));
            tauri::async_runtime::spawn(async move {
                connect_service(&handle, &desktop).await;
            });
            Ok(())
        })
        .build(tauri::generate_context!());
    match app {
        Ok(app) => {
            app.run(move |handle, event| {
                if let RunEvent::Exit = event {
                    // Shared PCs: nobody inherits the session when the app closes.
                    if shared_device {
                        let (desktop, session) = (&on_exit.0, &on_exit.1);
                        tauri::async_runtime::block_on(async {
                            match session.sign_out(desktop, true).await {
                                Ok(out) => tracing::info!(
                                    accounts = out.accounts.len(),
                                    revoked = out.revoked,
                                    "shared device: signed out on exit"
                                ),
                                Err(e) => {
                                    tracing::warn!(code = e.code(), "sign-out on exit failed")
                                }
                            }
                        });
                    }
                    crate::updater::install_pending(handle);
                    crate::logging::flush();
                }
            });
            ExitCode::SUCCESS
        }
        Err(e) => {
            tracing::error!(error = %e, "the window failed");
            eprintln!("educloud: the window could not start: {e}");
            ExitCode::from(1)
        }
    }
}

/// Connects to the service after the window is up, so launch is not
/// delayed; keeps the embedded sandbox alive for the process's life.
async fn connect_service(app: &tauri::AppHandle, desktop: &Desktop) {
    match crate::service::connect(desktop).await {
        Ok(Some(handle)) => {
            if let Some(slot) = app.try_state::<EmbeddedSandbox>() {
                *slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(code = e.code(), error = %e, "no Education Cloud service"),
    }
}
