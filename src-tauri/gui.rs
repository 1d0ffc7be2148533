//! The window: builds the Tauri app around one core [`Desktop`], starts the
//! embedded sandbox in the background when the environment is the demo, and
//! enforces a single instance (a second launch focuses the first).

use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use educloud_core::desktop::Desktop;
use educloud_core::session::SessionState;
use educloud_core::vault::SessionVault;
use educloud_core::CoreError;
use tauri::{Manager, RunEvent};

use crate::commands;
use crate::launch::LaunchClock;

/// How long launch work waits for the UI's `ui_ready` before it starts anyway
/// (a page that never reports must not leave the app without its service).
const DEFER_AT_MOST: std::time::Duration = std::time::Duration::from_secs(2);

/// How long the exit waits to end a session nobody keeps.
const EXIT_SIGN_OUT_AT_MOST: std::time::Duration = std::time::Duration::from_secs(5);

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
    let log_dir = desktop.paths.log_dir.clone();
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
                    let (desktop, session) = (&on_exit.0, &on_exit.1);
                    if shared_device {
                        // Shared PCs: nobody inherits the session when the app closes.
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
                    } else {
                        // A session not kept with 保持登入狀態 has nobody to
                        // hold it after this: ended at the service (queued for
                        // the next launch when offline), bounded so a stalled
                        // service cannot hold the exit.
                        tauri::async_runtime::block_on(async {
                            let ended = tokio::time::timeout(
                                EXIT_SIGN_OUT_AT_MOST,
                                session.end_unkept(desktop),
                            )
                            .await;
                            if let Ok(Some(out)) = ended {
                                tracing::info!(
                                    revoked = out.revoked,
                                    "unkept session ended on exit"
                                );
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
            show_fatal("window.failed", &log_dir);
            crate::logging::flush();
            ExitCode::from(1)
        }
    }
}

/// The window cannot start at all (e.g. the local store cannot be opened):
/// a double-clicking user sees no terminal, so the error goes to the log and
/// to a native dialog, then the process exits non-zero.
pub fn cannot_start(e: &CoreError, log_dir: &Path) -> ExitCode {
    tracing::error!(code = e.code(), error = %e, "the app cannot start");
    eprintln!("error[{}]: {e}", e.code());
    show_fatal(e.code(), log_dir);
    crate::logging::flush();
    ExitCode::from(2)
}

/// The words of the start-up failure dialog (zh-TW first, then English: the
/// language setting lives in the store that may be what failed).
fn fatal_text(code: &str, log_dir: &Path) -> String {
    let dir = log_dir.display();
    format!(
        "教育雲登入無法開啟（錯誤代碼 {code}）。\n請重新開機後再試一次；若仍無法開啟，請把記錄檔資料夾交給資訊人員：\n{dir}\n\n\
         EduCloud Desktop could not start (error {code}).\nRestart the computer and try again; if it still fails, \
         give your IT staff the log folder:\n{dir}"
    )
}

/// Shows [`fatal_text`] in the platform's own message box. Without a
/// display (SSH, CI) there is nobody to show it to: the log and stderr have it.
/// `EDUCLOUD_NO_DIALOG=1` leaves it out (tests that check the exit code).
fn show_fatal(code: &str, log_dir: &Path) {
    if std::env::var_os("EDUCLOUD_NO_DIALOG").is_some() {
        return;
    }
    let text = fatal_text(code, log_dir);
    tracing::info!(code, "start-up failure shown in a dialog");
    native_message_box("教育雲登入 · EduCloud Desktop", &text);
}

#[cfg(target_os = "linux")]
fn native_message_box(title: &str, text: &str) {
    use gtk::prelude::*;
    if gtk::init().is_err() {
        return;
    }
    let dialog = gtk::MessageDialog::new(
        None::<&gtk::Window>,
        gtk::DialogFlags::MODAL,
        gtk::MessageType::Error,
        gtk::ButtonsType::Ok,
        text,
    );
    dialog.set_title(title);
    dialog.run();
    dialog.close();
    while gtk::events_pending() {
        gtk::main_iteration();
    }
}

#[cfg(windows)]
fn native_message_box(title: &str, text: &str) {
    use windows_sys::Win32::UI::WindowsAndMessaging::{MessageBoxW, MB_ICONERROR, MB_OK};
    let wide = |s: &str| {
        s.encode_utf16()
            .chain(std::iter::once(0))
            .collect::<Vec<u16>>()
    };
    let (title, text) = (wide(title), wide(text));
    // SAFETY: both buffers are NUL-terminated UTF-16 and outlive the call.
    unsafe {
        MessageBoxW(
            std::ptr::null_mut(),
            text.as_ptr(),
            title.as_ptr(),
            MB_OK | MB_ICONERROR,
        );
    }
}

#[cfg(target_os = "macos")]
fn native_message_box(title: &str, text: &str) {
    // AppleScript's own alert (no extra framework binding for one box).
    let quote = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
    let script = format!(
        "display alert \"{}\" message \"{}\" as critical",
        quote(title),
        quote(text)
    );
    let _ = std::process::Command::new("osascript")
        .args(["-e", &script])
        .status();
}

#[cfg(not(any(target_os = "linux", windows, target_os = "macos")))]
fn native_message_box(_title: &str, _text: &str) {}

/// Connects to the service just chosen on the first-run screen (nothing
/// was connected at launch), in the background.
pub fn connect_chosen_service(app: &tauri::AppHandle, desktop: Arc<Desktop>) {
    let app = app.clone();
    tauri::async_runtime::spawn(async move { connect_service(&app, &desktop).await });
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_start_up_failure_says_what_to_do_in_both_languages() {
        let text = fatal_text("store.failed", Path::new("/tmp/logs"));
        assert!(
            text.contains("教育雲登入無法開啟（錯誤代碼 store.failed）"),
            "{text}"
        );
        assert!(text.contains("EduCloud Desktop could not start (error store.failed)"));
        assert_eq!(text.matches("/tmp/logs").count(), 2);
    }
}
