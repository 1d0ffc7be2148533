//! Tauri commands: each unpacks its arguments, calls one core function and
//! maps the error to [`ErrorDto`]. No business logic lives here.

use std::sync::Arc;

use educloud_core::desktop::{Desktop, StoreNotice};
use educloud_core::policy::EnvironmentKind;
use educloud_core::settings as prefs;
use serde::Serialize;
use tauri::State;

use crate::dto::CmdResult;
use crate::launch::LaunchClock;

pub mod about;
pub mod directory;
pub mod handoff;
pub mod register;
pub mod settings;
pub mod signin;

/// The generated invoke handler; `src-tauri/build.rs` lists the same names.
pub fn handler() -> impl Fn(tauri::ipc::Invoke<tauri::Wry>) -> bool + Send + Sync + 'static {
    use about::*;
    use directory::*;
    use handoff::*;
    use register::*;
    use settings::*;
    use signin::*;
    tauri::generate_handler![
        app_info,
        ui_ready,
        set_language,
        counties,
        start_county_sign_in,
        finish_county_sign_in,
        cancel_sign_in,
        reopen_browser,
        sign_in_password,
        session_status,
        restore_session,
        switch_account,
        sign_out,
        remove_account,
        open_service,
        open_outbox,
        request_password_reset,
        resend_activation,
        terms,
        validate_field,
        validate_registration,
        check_availability,
        process_avatar,
        save_draft,
        load_draft,
        discard_draft,
        submit_registration,
        county_names,
        check_county,
        open_portal_page,
        open_service_signed_in,
        choose_service,
        dismiss_store_notice,
        check_for_update,
        update_status,
        restart_to_update
    ]
}

#[derive(Debug, Serialize)]
pub struct LockedValue<T> {
    pub value: T,
    pub locked: bool,
}

impl<T> From<prefs::Resolved<T>> for LockedValue<T> {
    fn from(r: prefs::Resolved<T>) -> Self {
        LockedValue {
            locked: r.locked(),
            value: r.value,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct AppInfo {
    pub version: &'static str,
    pub language: LockedValue<String>,
    /// `sandbox`, `production` or `custom`.
    pub environment: EnvironmentKind,
    pub environment_locked: bool,
    /// Where the environment came from: `policy`, `environment` (a
    /// developer's `EDUCLOUD_SERVICE_URL`), `user` or `default` (設定 shows it).
    pub environment_origin: prefs::Origin,
    /// The service's base URL once known (the sandbox's outbox lives there).
    pub service_url: Option<String>,
    pub shared_device: bool,
    pub registration_enabled: bool,
    /// False under policy `DisableUpdates`: no update notice, no 檢查更新.
    pub updates_enabled: bool,
    /// A release build's first run: the window asks which service to use.
    pub needs_service_choice: bool,
    /// The damaged local store was moved aside: said once in the window.
    pub store_notice: Option<StoreNotice>,
    pub policy_problems: Vec<String>,
    /// The policy keys IT has set: the UI shows 由您的機構管理 on them.
    pub locked_settings: Vec<&'static str>,
}

impl AppInfo {
    fn read(desktop: &Desktop) -> educloud_core::Result<Self> {
        let policy = desktop.policy();
        let env = desktop.environment()?;
        Ok(AppInfo {
            version: env!("CARGO_PKG_VERSION"),
            language: prefs::language(policy, &desktop.store)?.into(),
            environment: env.value.kind,
            environment_locked: env.locked(),
            environment_origin: env.origin,
            service_url: desktop
                .service()
                .map(|s| s.base_url.to_string())
                .or(env.value.service_url),
            shared_device: policy.shared_device(),
            registration_enabled: !policy.disable_registration.unwrap_or(false),
            updates_enabled: !policy.disable_updates.unwrap_or(false),
            needs_service_choice: desktop.needs_service_choice()?,
            store_notice: desktop.store_notice(),
            policy_problems: desktop.loaded_policy().problems.clone(),
            locked_settings: policy.set_keys(),
        })
    }
}

/// What the UI needs to draw its frame: language, environment, locks.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn app_info(
    desktop: State<'_, Arc<Desktop>>,
    clock: State<'_, LaunchClock>,
) -> CmdResult<AppInfo> {
    clock.mark("app_info");
    Ok(AppInfo::read(&desktop)?)
}

/// The UI calls this once after its first paint with its buttons live.
/// `marks` is the page's own launch timeline (ms on the page's clock, plus
/// `page_origin_ms`, the page's time origin as Unix ms), logged with the
/// shell's phases so a slow launch can be taken apart (`EDUCLOUD_LAUNCH_TRACE=1`
/// also prints it to stderr).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn ui_ready(
    clock: State<'_, LaunchClock>,
    ready: State<'_, crate::gui::UiReady>,
    marks: Option<serde_json::Value>,
) {
    let ms = clock.elapsed().as_secs_f64() * 1000.0;
    let timeline = clock.timeline(marks);
    tracing::info!(launch_to_interactive_ms = ms, %timeline, "ui ready");
    if std::env::var_os("EDUCLOUD_LAUNCH_TRACE").is_some() {
        eprintln!("EDUCLOUD_LAUNCH_TRACE {timeline}");
    }
    println!("EDUCLOUD_UI_READY {ms:.1}");
    // Deferred launch work (the embedded sandbox, the update check) may start.
    ready.0.notify_one();
}

#[tauri::command]
#[tracing::instrument(skip(desktop))]
pub async fn set_language(desktop: State<'_, Arc<Desktop>>, language: String) -> CmdResult<()> {
    Ok(prefs::set_language(
        desktop.policy(),
        &desktop.store,
        &language,
    )?)
}
