//! Tauri commands: each unpacks its arguments, calls one core function and
//! maps the error to [`ErrorDto`]. No business logic lives here.

use std::sync::Arc;
use std::time::Instant;

use educloud_core::desktop::Desktop;
use educloud_core::policy::EnvironmentKind;
use educloud_core::settings;
use serde::Serialize;
use tauri::State;

use crate::dto::CmdResult;

pub mod register;
pub mod signin;

/// When the process started, for the launch → interactive measurement.
pub struct LaunchClock(pub Instant);

/// The generated invoke handler; `src-tauri/build.rs` lists the same names.
pub fn handler() -> impl Fn(tauri::ipc::Invoke<tauri::Wry>) -> bool + Send + Sync + 'static {
    use register::*;
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
        submit_registration
    ]
}

#[derive(Debug, Serialize)]
pub struct LockedValue<T> {
    pub value: T,
    pub locked: bool,
}

impl<T> From<settings::Resolved<T>> for LockedValue<T> {
    fn from(r: settings::Resolved<T>) -> Self {
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
    /// The service's base URL once known (the sandbox's outbox lives there).
    pub service_url: Option<String>,
    pub shared_device: bool,
    pub registration_enabled: bool,
    pub policy_problems: Vec<String>,
    /// The policy keys IT has set: the UI shows 由您的機構管理 on them.
    pub locked_settings: Vec<&'static str>,
}

/// What the UI needs to draw its frame: language, environment, locks.
#[tauri::command]
pub async fn app_info(desktop: State<'_, Arc<Desktop>>) -> CmdResult<AppInfo> {
    let policy = &desktop.policy.policy;
    let env = desktop.environment()?;
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        language: settings::language(policy, &desktop.store)?.into(),
        environment: env.value.kind,
        environment_locked: env.locked(),
        service_url: desktop.service().map(|s| s.base_url.to_string()),
        shared_device: policy.shared_device(),
        registration_enabled: !policy.disable_registration.unwrap_or(false),
        policy_problems: desktop.policy.problems.clone(),
        locked_settings: policy.set_keys(),
    })
}

/// The UI calls this once after its first paint with its buttons live.
#[tauri::command]
pub fn ui_ready(clock: State<'_, LaunchClock>) {
    let ms = clock.0.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(launch_to_interactive_ms = ms, "ui ready");
    println!("EDUCLOUD_UI_READY {ms:.1}");
    // Now that the window is live, prepare what the first keystroke needs.
    tauri::async_runtime::spawn_blocking(educloud_core::registration::warm_up);
}

#[tauri::command]
pub async fn set_language(desktop: State<'_, Arc<Desktop>>, language: String) -> CmdResult<()> {
    Ok(settings::set_language(
        &desktop.policy.policy,
        &desktop.store,
        &language,
    )?)
}
