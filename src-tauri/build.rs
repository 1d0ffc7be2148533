//! Generates the Tauri context and one `allow-<command>` permission per app
//! command, so `capabilities/main.json` can grant exactly the commands the
//! UI calls and nothing else.

/// Every command the UI may call (kept in step with `commands::handler`).
const COMMANDS: &[&str] = &["app_info", "ui_ready", "set_language"];

fn main() {
    tauri_build::try_build(
        tauri_build::Attributes::new()
            .app_manifest(tauri_build::AppManifest::new().commands(COMMANDS)),
    )
    .unwrap_or_else(|e| panic!("tauri-build failed: {e:#}"));
}
