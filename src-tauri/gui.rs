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

use crate::commands::{self, LaunchClock};

/// How long launch work waits for the UI's `ui_ready` before it starts anyway
/// (a page that never reports must not leave the app without its service).
const DEFER_AT_MOST: std::time::Duration = std::time::Duration::from_secs(2);

/// Signalled once by `ui_ready`: the first screen is painted and live.
#[derive(Default)]
pub struct UiReady(pub Arc<tokio::sync::Notify>);

/// Keeps the embedded sandbox alive for the process's life.
struct EmbeddedSandbox(Mutex<Option<educloud_sandbox::SandboxHandle>>);

/// Linux: WebKitGTK 2.46+ paints with Skia on the GPU through OpenGL by
/// default. On the machines this app meets — school PCs without a usable
/// GPU, virtual machines, remote desktops, Xvfb — that OpenGL is Mesa's
/// software renderer (llvmpipe), and for a forms UI it costs most of the
/// launch and memory (measured: first frame ~600 ms later, the web process
/// using twice the CPU; docs/performance.md). The app asks WebKit to paint
/// on the CPU (`WEBKIT_SKIA_ENABLE_CPU_RENDERING=1`; compositing stays on)
/// unless that variable is already set, or `EDUCLOUD_WEBVIEW_RENDERING=webkit`
/// leaves WebKit's own choice (for PCs with a real GPU; docs/it).
/// Call while the process has one thread (it changes the environment).
pub fn choose_webview_rendering() {
    #[cfg(target_os = "linux")]
    {
        const KEY: &str = "WEBKIT_SKIA_ENABLE_CPU_RENDERING";
        let webkit_default = std::env::var("EDUCLOUD_WEBVIEW_RENDERING")
            .map(|v| v.eq_ignore_ascii_case("webkit"))
            .unwrap_or(false);
        if !webkit_default && std::env::var_os(KEY).is_none() {
            std::env::set_var(KEY, "1");
        }
    }
}

pub fn run(desktop: Desktop, started: Instant) -> ExitCode {
    let desktop = Arc::new(desktop);
    let session = Arc::new(SessionState::new(SessionVault::os()));
    let shared_device = desktop.policy().shared_device();
    let on_exit = (Arc::clone(&desktop), Arc::clone(&session));
    let clock = LaunchClock::new(started);
    clock.mark("desktop_open");
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
        .manage(clock)
        .manage(UiReady::default())
        .on_page_load(|webview, payload| {
            let phase = match payload.event() {
                tauri::webview::PageLoadEvent::Started => "page_load_started",
                tauri::webview::PageLoadEvent::Finished => "page_load_finished",
            };
            if let Some(clock) = webview.try_state::<LaunchClock>() {
                clock.mark(phase);
            }
        })
        .plugin(tauri_plugin_updater::Builder::new().build())
        .manage(crate::updater::PendingUpdate::default())
        .manage(EmbeddedSandbox(Mutex::new(None)))
        .invoke_handler(commands::handler())
        .setup(move |app| {
            if let Some(clock) = app.try_state::<LaunchClock>() {
                clock.mark("setup");
            }
            let handle = app.handle().clone();
            let desktop = desktop.clone();
            // Work the first screen does not need waits until the window is
            // interactive (`ui_ready`), so it does not compete with the
            // webview for the CPU during launch: starting the embedded
            // sandbox, the update check. Commands that need the service wait
            // for it (`Desktop::wait_service`).
            // A session kept with 保持登入狀態 is restored at once instead:
            // that needs the service as early as possible.
            let ui_ready = app.state::<UiReady>().0.clone();
            let restore_first = SessionState::has_session_to_restore(&desktop);
            tauri::async_runtime::spawn(async move {
                if !restore_first {
                    let _ = tokio::time::timeout(DEFER_AT_MOST, ui_ready.notified()).await;
                }
                tauri::async_runtime::spawn(crate::updater::check_once(
                    handle.clone(),
                    desktop.clone(),
                ));
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
            if let Some(clock) = app.try_state::<LaunchClock>() {
                clock.mark("sandbox_ready");
            }
            if let Some(slot) = app.try_state::<EmbeddedSandbox>() {
                *slot.0.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
            }
        }
        Ok(None) => {}
        Err(e) => tracing::error!(code = e.code(), error = %e, "no Education Cloud service"),
    }
}
