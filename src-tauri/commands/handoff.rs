//! 教育雲服務 links that open in the browser already signed in: a one-time
//! web hand-off (single use, ≤ 60 s, bound to this session). The link is a
//! credential: it goes from the service straight to the browser opener —
//! never to the log, the store or the webview.

use std::sync::Arc;

use educloud_core::desktop::Desktop;
use educloud_core::session::SessionState;
use tauri::State;

use crate::dto::CmdResult;

/// Opens `service` (`portal`, `market`, `pedia`, `video`) in the system
/// browser, signed in as the current account.
#[tauri::command]
#[tracing::instrument(skip(desktop, session))]
pub async fn open_service_signed_in(
    desktop: State<'_, Arc<Desktop>>,
    session: State<'_, Arc<SessionState>>,
    service: String,
) -> CmdResult<()> {
    Ok(session.open_service_signed_in(&desktop, &service).await?)
}
