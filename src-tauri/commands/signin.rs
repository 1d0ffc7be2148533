//! Sign-in (flow B) commands: the county directory, county Open ID through
//! the system browser, member sign-in, stay signed in, the account screen,
//! the accounts on this PC. Each unpacks its arguments, makes one core call
//! and returns a DTO ([`crate::dto`]); the orchestration (the background
//! county sign-in, its pending slot, cancel) lives in the core's
//! `SessionState`, shared with the CLI. Tokens never cross this boundary.

use std::sync::Arc;

use educloud_core::api::EduCloudClient;
use educloud_core::desktop::Desktop;
use educloud_core::directory::{CountyDirectory, CountyListing};
use educloud_core::policy::EnvironmentKind;
use educloud_core::secret::SecretString;
use educloud_core::session::{SessionState, SignOutOptions};
use educloud_core::{settings, CoreError};
use serde::Serialize;
use tauri::State;

use super::LockedValue;
use crate::dto::{AccountDto, CmdResult, OutcomeDto, SignOutDto, StatusDto, WaitingDto};

type Desk<'a> = State<'a, Arc<Desktop>>;
type Session<'a> = State<'a, Arc<SessionState>>;

#[derive(Debug, Serialize)]
pub struct Counties {
    pub counties: Vec<CountyListing>,
    pub default_county: LockedValue<Option<String>>,
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn counties(desktop: Desk<'_>) -> CmdResult<Counties> {
    let directory = CountyDirectory::load(&desktop).await?;
    Ok(Counties {
        counties: directory.listings(),
        default_county: settings::default_county(desktop.policy(), &desktop.store)?.into(),
    })
}

/// Starts a county sign-in and returns once the browser was asked to open
/// the county's page (or the start failed).
#[tauri::command]
#[tracing::instrument(skip_all, fields(county = %county))]
pub async fn start_county_sign_in(
    desktop: Desk<'_>,
    session: Session<'_>,
    county: String,
    stay_signed_in: bool,
) -> CmdResult<WaitingDto> {
    let desktop = desktop.inner();
    Ok(session
        .start_county_sign_in(desktop, &county, stay_signed_in)
        .await?)
}

/// Waits for the pending county sign-in to finish (or fail, be cancelled,
/// or time out).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn finish_county_sign_in(session: Session<'_>) -> CmdResult<OutcomeDto> {
    Ok(session.finish_county_sign_in().await?.into())
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub fn cancel_sign_in(session: Session<'_>) -> bool {
    session.cancel_sign_in()
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn reopen_browser(session: Session<'_>) -> CmdResult<()> {
    Ok(session.reopen_browser()?)
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn sign_in_password(
    desktop: Desk<'_>,
    session: Session<'_>,
    email: String,
    password: SecretString,
    stay_signed_in: bool,
) -> CmdResult<AccountDto> {
    Ok(session
        .sign_in_password(&desktop, &email, password, stay_signed_in)
        .await?)
}

/// Everything the account screen shows.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn session_status(desktop: Desk<'_>, session: Session<'_>) -> CmdResult<StatusDto> {
    Ok(session.status(&desktop).await?.into())
}

/// Signs in silently with a session kept by 保持登入狀態 (at launch).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn restore_session(
    desktop: Desk<'_>,
    session: Session<'_>,
) -> CmdResult<Option<AccountDto>> {
    Ok(session.restore_at_launch(&desktop).await?)
}

/// Signs in as another account kept on this PC.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn switch_account(
    desktop: Desk<'_>,
    session: Session<'_>,
    account: String,
) -> CmdResult<AccountDto> {
    Ok(session.switch_account(&desktop, &account).await?)
}

/// 登出; with `end_county_session` the county's own sign-out page opens
/// too (where the county has one); with `forget` the account is removed
/// from this PC as well (row and history).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn sign_out(
    desktop: Desk<'_>,
    session: Session<'_>,
    all: bool,
    end_county_session: Option<bool>,
    forget: Option<bool>,
) -> CmdResult<SignOutDto> {
    let options = SignOutOptions {
        all,
        end_county_session: end_county_session.unwrap_or(false),
        forget: forget.unwrap_or(false),
    };
    Ok(session.sign_out_with(&desktop, options).await?)
}

/// 從這台電腦移除: the account's keychain entry, its row and its history.
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn remove_account(
    desktop: Desk<'_>,
    session: Session<'_>,
    account: String,
) -> CmdResult<SignOutDto> {
    Ok(session.remove_account(&desktop, &account).await?)
}

/// The Education Cloud services the account screen links to.
const SERVICES: &[(&str, &str)] = &[
    ("portal", "https://cloud.edu.tw/"),
    ("market", "https://market.cloud.edu.tw/"),
    ("pedia", "https://pedia.cloud.edu.tw/"),
    ("video", "https://video.cloud.edu.tw/video/"),
];

/// Opens one of the known services in the system browser (only these).
#[tauri::command]
#[tracing::instrument(skip_all, fields(service = %service))]
pub async fn open_service(desktop: Desk<'_>, service: String) -> CmdResult<()> {
    let url = SERVICES
        .iter()
        .find(|(name, _)| *name == service)
        .map(|(_, url)| *url)
        .ok_or_else(|| CoreError::invalid("service", "request.invalid"))?;
    Ok(desktop.browser.open(url)?)
}

/// Opens the demo environment's outbox (sandbox only).
#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn open_outbox(desktop: Desk<'_>) -> CmdResult<()> {
    let service = desktop.service().ok_or(CoreError::ServiceNotReady)?;
    if service.kind != EnvironmentKind::Sandbox {
        return Err(CoreError::invalid("service", "request.invalid").into());
    }
    let url = service
        .base_url
        .join("outbox")
        .map_err(|e| CoreError::Internal(e.to_string()))?;
    Ok(desktop.browser.open(url.as_str())?)
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn request_password_reset(desktop: Desk<'_>, email: String) -> CmdResult<()> {
    let api = EduCloudClient::for_desktop(&desktop).await?;
    Ok(api.request_password_reset(&email).await?)
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn resend_activation(desktop: Desk<'_>, email: String) -> CmdResult<()> {
    let api = EduCloudClient::for_desktop(&desktop).await?;
    Ok(api.resend_activation(&email).await?)
}
