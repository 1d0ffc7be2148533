//! 設定: the service choice (first run and later) and the one-time notice
//! about a damaged local store. Each makes one core call.

use std::sync::Arc;

use educloud_core::desktop::Desktop;
use educloud_core::policy::EnvironmentKind;
use educloud_core::settings::{self as prefs, ServiceChosen};
use tauri::State;

use crate::dto::CmdResult;

/// Saves the service to use: the ministry's, the organization's (its URL is
/// checked first; errors carry the field `service_url`) or the demo.
/// `policy.locked` when IT fixes it. On the first run nothing is connected
/// yet: the chosen service is connected now.
#[tauri::command]
#[tracing::instrument(skip(app, desktop))]
pub async fn choose_service(
    app: tauri::AppHandle,
    desktop: State<'_, Arc<Desktop>>,
    kind: EnvironmentKind,
    url: Option<String>,
) -> CmdResult<ServiceChosen> {
    let chosen = prefs::choose_service(&desktop, kind, url.as_deref()).await?;
    if desktop.service().is_none() {
        crate::gui::connect_chosen_service(&app, Arc::clone(&desktop));
    }
    Ok(chosen)
}

/// The person has read the notice about the damaged store (shown once).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn dismiss_store_notice(desktop: State<'_, Arc<Desktop>>) -> CmdResult<()> {
    Ok(desktop.dismiss_store_notice()?)
}
