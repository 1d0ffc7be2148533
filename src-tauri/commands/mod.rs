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

/// When the process started, for the launch → interactive measurement, and
/// the shell's launch phases (ms since start).
pub struct LaunchClock {
    started: Instant,
    /// The same moment as Unix ms, to place the page's marks on this clock.
    started_unix_ms: f64,
    phases: std::sync::Mutex<Vec<(&'static str, f64)>>,
}

impl LaunchClock {
    pub fn new(started: Instant) -> Self {
        let now_unix_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1000.0)
            .unwrap_or(0.0);
        LaunchClock {
            started,
            started_unix_ms: now_unix_ms - started.elapsed().as_secs_f64() * 1000.0,
            phases: std::sync::Mutex::new(Vec::new()),
        }
    }

    pub fn elapsed(&self) -> std::time::Duration {
        self.started.elapsed()
    }

    /// Notes that a launch phase ended now.
    pub fn mark(&self, phase: &'static str) {
        let ms = self.started.elapsed().as_secs_f64() * 1000.0;
        self.phases
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((phase, ms));
    }

    /// One JSON object: the shell's phases and the page's marks, all in ms
    /// since the process started.
    fn timeline(&self, marks: Option<serde_json::Value>) -> serde_json::Value {
        let mut out = serde_json::Map::new();
        if let Some(cpu) = process_cpu_ms() {
            out.insert("cpu_ms".into(), round(cpu));
        }
        for (phase, ms) in self.phases.lock().unwrap_or_else(|p| p.into_inner()).iter() {
            out.insert((*phase).to_string(), round(*ms));
        }
        if let Some(serde_json::Value::Object(marks)) = marks {
            // The page's clock starts at its time origin (Unix ms).
            let origin = marks
                .get("page_origin_ms")
                .and_then(|v| v.as_f64())
                .map(|o| o - self.started_unix_ms);
            if let Some(origin) = origin {
                out.insert("page.origin".into(), round(origin));
                for (name, v) in &marks {
                    if let (false, Some(ms)) = (name == "page_origin_ms", v.as_f64()) {
                        out.insert(format!("page.{name}"), round(origin + ms));
                    }
                }
            }
        }
        serde_json::Value::Object(out)
    }
}

/// CPU time (user + system) this process has used so far, in ms (Linux).
fn process_cpu_ms() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // USER_HZ is 100 on every Linux this ships to.
    Some((utime + stime) * 10.0)
}

fn round(ms: f64) -> serde_json::Value {
    serde_json::json!((ms * 10.0).round() / 10.0)
}

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
pub async fn app_info(
    desktop: State<'_, Arc<Desktop>>,
    clock: State<'_, LaunchClock>,
) -> CmdResult<AppInfo> {
    clock.mark("app_info");
    let policy = desktop.policy();
    let env = desktop.environment()?;
    Ok(AppInfo {
        version: env!("CARGO_PKG_VERSION"),
        language: settings::language(policy, &desktop.store)?.into(),
        environment: env.value.kind,
        environment_locked: env.locked(),
        service_url: desktop.service().map(|s| s.base_url.to_string()),
        shared_device: policy.shared_device(),
        registration_enabled: !policy.disable_registration.unwrap_or(false),
        policy_problems: desktop.loaded_policy().problems.clone(),
        locked_settings: policy.set_keys(),
    })
}

/// The UI calls this once after its first paint with its buttons live.
/// `marks` is the page's own launch timeline (ms on the page's clock, plus
/// `page_origin_ms`, the page's time origin as Unix ms), logged with the
/// shell's phases so a slow launch can be taken apart (`EDUCLOUD_LAUNCH_TRACE=1`
/// also prints it to stderr).
#[tauri::command]
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
pub async fn set_language(desktop: State<'_, Arc<Desktop>>, language: String) -> CmdResult<()> {
    Ok(settings::set_language(
        desktop.policy(),
        &desktop.store,
        &language,
    )?)
}
