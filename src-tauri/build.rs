//! Generates the Tauri context and one `allow-<command>` permission per app
//! command, so `capabilities/main.json` can grant exactly the commands the
//! UI calls and nothing else.

/// Every command the UI may call (kept in step with `commands::handler`).
const COMMANDS: &[&str] = &[
    "app_info",
    "ui_ready",
    "set_language",
    "counties",
    "start_county_sign_in",
    "finish_county_sign_in",
    "cancel_sign_in",
    "reopen_browser",
    "sign_in_password",
    "session_status",
    "restore_session",
    "switch_account",
    "sign_out",
    "remove_account",
    "open_service",
    "open_outbox",
    "request_password_reset",
    "resend_activation",
    "terms",
    "validate_field",
    "validate_registration",
    "check_availability",
    "process_avatar",
    "save_draft",
    "load_draft",
    "discard_draft",
    "submit_registration",
    "county_names",
    "check_county",
    "open_portal_page",
    "open_service_signed_in",
    "choose_service",
    "dismiss_store_notice",
    "check_for_update",
    "update_status",
    "restart_to_update",
];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .unwrap_or_else(|e| panic!("tauri-build failed: {e:#}"));
}
