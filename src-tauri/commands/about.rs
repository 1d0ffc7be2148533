//! 關於: the portal's help pages and the update commands behind 檢查更新 and
//! 立即重新啟動 (the updater itself lives in `crate::updater`).

use std::sync::Arc;

use educloud_core::desktop::Desktop;
use educloud_core::CoreError;
use serde::Serialize;
use tauri::State;

use crate::dto::{CmdResult, ErrorDto};
use crate::updater::CheckOutcome;

/// The Education Cloud portal's own pages (常見問題, 聯絡我們, 隱私權政策).
const PORTAL_PAGES: &[(&str, &str)] = &[
    ("faq", "https://cloud.edu.tw/faq/"),
    ("contact", "https://cloud.edu.tw/contact/"),
    ("privacy", "https://cloud.edu.tw/privacy/"),
];

/// Opens one of the portal's pages in the system browser (only these).
#[tauri::command]
#[tracing::instrument(skip(desktop))]
pub async fn open_portal_page(desktop: State<'_, Arc<Desktop>>, page: String) -> CmdResult<()> {
    let url = PORTAL_PAGES
        .iter()
        .find(|(name, _)| *name == page)
        .map(|(_, url)| *url)
        .ok_or_else(|| ErrorDto::from(CoreError::invalid("page", "request.invalid")))?;
    Ok(desktop.browser.open(url)?)
}

/// What the 關於 screen says about updates.
#[derive(Debug, Clone, Serialize)]
pub struct UpdateStatusDto {
    /// `none`, `downloaded` or `skipped`.
    pub status: &'static str,
    pub version: Option<String>,
    /// Why no check ran: `policy`, `demo`, `debug`, `override`, `no_endpoint`.
    pub reason: Option<&'static str>,
}

impl UpdateStatusDto {
    fn from_outcome(outcome: CheckOutcome) -> CmdResult<Self> {
        let (status, version, reason) = match outcome {
            CheckOutcome::Skipped(reason) => ("skipped", None, Some(reason)),
            CheckOutcome::UpToDate => ("none", None, None),
            CheckOutcome::Downloaded(v) => ("downloaded", Some(v), None),
            CheckOutcome::Failed(code) => {
                return Err(ErrorDto {
                    code,
                    field: None,
                    detail: None,
                })
            }
        };
        Ok(UpdateStatusDto {
            status,
            version,
            reason,
        })
    }
}

/// 檢查更新: checks now and downloads what it finds (installed by
/// 立即重新啟動 or when the app exits, once the user was told).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn check_for_update(
    app: tauri::AppHandle,
    desktop: State<'_, Arc<Desktop>>,
) -> CmdResult<UpdateStatusDto> {
    UpdateStatusDto::from_outcome(crate::updater::check_once(app, Arc::clone(&desktop)).await)
}

/// Whether an update is downloaded and waits for a restart (asking counts
/// as telling the user: the window shows 有新版本，重新啟動後更新).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn update_status(app: tauri::AppHandle) -> UpdateStatusDto {
    let version = crate::updater::pending_version(&app);
    UpdateStatusDto {
        status: if version.is_some() {
            "downloaded"
        } else {
            "none"
        },
        version,
        reason: None,
    }
}

/// 立即重新啟動: installs the downloaded update and starts the new version.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn restart_to_update(app: tauri::AppHandle) -> CmdResult<()> {
    if crate::updater::pending_version(&app).is_none() {
        return Err(CoreError::invalid("update", "update.none_pending").into());
    }
    crate::updater::install_pending(&app);
    app.restart()
}
