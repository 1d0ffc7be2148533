//! The window: builds the Tauri app around one core [`Desktop`], starts the
//! embedded sandbox in the background when the environment is the demo, and
//! enforces a single instance (a second launch focuses the first).

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use educloud_core::desktop::{Desktop, ServiceEndpoint};
use educloud_core::policy::EnvironmentKind;
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
                            if let Err(e) = session.sign_out(desktop, true).await {
                                tracing::warn!(code = e.code(), "sign-out on exit failed");
                            }
                        });
                    }
                    crate::updater::install_pending(handle);
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

/// Resolves the environment; for the demo, starts the sandbox in-process on
/// a random loopback port (after the window is up, so launch is not delayed).
async fn connect_service(app: &tauri::AppHandle, desktop: &Desktop) {
    let env = match desktop.environment() {
        Ok(env) => env.value,
        Err(e) => {
            tracing::error!(error = %e, "cannot resolve the environment");
            return;
        }
    };
    match env.kind {
        EnvironmentKind::Sandbox => {
            let config = educloud_sandbox::SandboxConfig {
                data_dir: Some(desktop.paths.sandbox_dir()),
                port: 0,
                ..Default::default()
            };
            match educloud_sandbox::start(config).await {
                Ok(handle) => {
                    desktop.set_service(ServiceEndpoint {
                        kind: EnvironmentKind::Sandbox,
                        base_url: handle.base_url().clone(),
                    });
                    if let Some(slot) = app.try_state::<EmbeddedSandbox>() {
                        *slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
                    }
                }
                Err(e) => tracing::error!(error = %e, "the embedded sandbox did not start"),
            }
        }
        kind => match env.service_url.as_deref().map(url::Url::parse) {
            Some(Ok(base_url)) => desktop.set_service(ServiceEndpoint { kind, base_url }),
            _ => tracing::error!("no valid service URL is configured"),
        },
    }
}
