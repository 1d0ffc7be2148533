//! Sign-in (flow B) commands: the county directory, county Open ID through
//! the system browser, member sign-in, stay signed in, the account screen.
//! Tokens never cross this boundary: only accounts and display claims do.

use std::sync::Arc;

use educloud_core::api::{Account, EduCloudClient};
use educloud_core::desktop::Desktop;
use educloud_core::directory::{CountyDirectory, CountyListing};
use educloud_core::oidc::{CountyIdentity, SignInProgress, WaitingForBrowser};
use educloud_core::policy::EnvironmentKind;
use educloud_core::secret::SecretString;
use educloud_core::session::{SessionState, SignInOutcome};
use educloud_core::store::HistoryEntry;
use educloud_core::{settings, CoreError, Result};
use serde::Serialize;
use tauri::State;
use tokio::sync::{oneshot, Mutex};
use tokio::task::JoinHandle;

use super::LockedValue;
use crate::dto::{CmdResult, ErrorDto};

/// The county sign-in running in the background while the UI shows
/// "請在瀏覽器中完成登入".
#[derive(Default)]
pub struct PendingSignIn(Mutex<Option<JoinHandle<Result<SignInOutcome>>>>);

fn county_name(code: &str) -> (String, String) {
    educloud_core::contract::county::find(code)
        .map(|c| (c.name_zh.to_string(), c.name_en.to_string()))
        .unwrap_or_else(|| (code.to_string(), code.to_string()))
}

#[derive(Debug, Serialize)]
pub struct Counties {
    pub counties: Vec<CountyListing>,
    pub default_county: LockedValue<Option<String>>,
}

#[tauri::command]
pub async fn counties(desktop: State<'_, Arc<Desktop>>) -> CmdResult<Counties> {
    let directory = CountyDirectory::load(&desktop).await?;
    Ok(Counties {
        counties: directory.listings(),
        default_county: settings::default_county(desktop.policy(), &desktop.store)?.into(),
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct WaitingDto {
    pub county: String,
    pub county_name: String,
    pub authorize_url: String,
}

struct Progress {
    tx: std::sync::Mutex<Option<oneshot::Sender<WaitingDto>>>,
    english: bool,
}

impl SignInProgress for Progress {
    fn waiting_for_browser(&self, w: &WaitingForBrowser) {
        let dto = WaitingDto {
            county: w.county.clone(),
            county_name: if self.english {
                w.county_name_en.clone()
            } else {
                w.county_name_zh.clone()
            },
            authorize_url: w.authorize_url.clone(),
        };
        if let Some(tx) = self.tx.lock().unwrap_or_else(|p| p.into_inner()).take() {
            let _ = tx.send(dto);
        }
    }
}

/// Starts a county sign-in and returns once the browser was asked to open
/// the county's page (or the start failed).
#[tauri::command]
pub async fn start_county_sign_in(
    desktop: State<'_, Arc<Desktop>>,
    session: State<'_, Arc<SessionState>>,
    pending: State<'_, PendingSignIn>,
    county: String,
    stay_signed_in: bool,
) -> CmdResult<WaitingDto> {
    let mut slot = pending.0.lock().await;
    if slot.as_ref().is_some_and(|h| !h.is_finished()) {
        return Err(CoreError::SignInPending.into());
    }
    let english = settings::language(desktop.policy(), &desktop.store)?.value == "en";
    let (tx, rx) = oneshot::channel();
    let progress = Progress {
        tx: std::sync::Mutex::new(Some(tx)),
        english,
    };
    let (desktop_c, session_c) = (Arc::clone(&desktop), Arc::clone(&session));
    let _ = settings::set_default_county(desktop.policy(), &desktop.store, &county);
    let handle = tokio::spawn(async move {
        session_c
            .sign_in_county(&desktop_c, &county, stay_signed_in, &progress)
            .await
    });
    match rx.await {
        Ok(waiting) => {
            *slot = Some(handle);
            Ok(waiting)
        }
        // The flow ended before a browser was opened: its error says why.
        Err(_) => match handle.await {
            Ok(Err(e)) => Err(e.into()),
            Ok(Ok(_)) => Err(CoreError::Internal("sign-in ended without a browser".into()).into()),
            Err(e) => Err(CoreError::Internal(e.to_string()).into()),
        },
    }
}

/// What a finished county sign-in means for the UI.
#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum OutcomeDto {
    SignedIn {
        account: AccountDto,
    },
    /// No Education Cloud account is bound to this Open ID yet: the UI
    /// offers registration with the same, already verified identity.
    NotRegistered {
        identity: IdentityDto,
    },
}

/// The verified county identity's display claims (no token).
#[derive(Debug, Serialize)]
pub struct IdentityDto {
    #[serde(flatten)]
    pub identity: CountyIdentity,
    pub county_name: String,
}

/// An account as the UI shows it.
#[derive(Debug, Serialize)]
pub struct AccountDto {
    #[serde(flatten)]
    pub account: Account,
    pub county_name: Option<String>,
}

fn account_dto(account: Account, english: bool) -> AccountDto {
    let county_name = account.county.as_deref().map(|c| {
        let (zh, en) = county_name(c);
        if english {
            en
        } else {
            zh
        }
    });
    AccountDto {
        account,
        county_name,
    }
}

fn english(desktop: &Desktop) -> bool {
    settings::language(desktop.policy(), &desktop.store)
        .map(|l| l.value == "en")
        .unwrap_or(false)
}

/// Waits for the pending county sign-in to finish (or fail, be cancelled,
/// or time out).
#[tauri::command]
pub async fn finish_county_sign_in(
    desktop: State<'_, Arc<Desktop>>,
    pending: State<'_, PendingSignIn>,
) -> CmdResult<OutcomeDto> {
    let handle = pending
        .0
        .lock()
        .await
        .take()
        .ok_or_else(|| ErrorDto::from(CoreError::NotSignedIn))?;
    let outcome = handle
        .await
        .map_err(|e| ErrorDto::from(CoreError::Internal(e.to_string())))??;
    let en = english(&desktop);
    Ok(match outcome {
        SignInOutcome::SignedIn(account) => OutcomeDto::SignedIn {
            account: account_dto(account, en),
        },
        SignInOutcome::NotRegistered(identity) => {
            // The registration form comes next.
            educloud_core::registration::warm_up_in_background();
            let (zh, e) = county_name(&identity.county);
            OutcomeDto::NotRegistered {
                identity: IdentityDto {
                    identity,
                    county_name: if en { e } else { zh },
                },
            }
        }
    })
}

#[tauri::command]
pub fn cancel_sign_in(session: State<'_, Arc<SessionState>>) -> bool {
    session.cancel_sign_in()
}

#[tauri::command]
pub fn reopen_browser(session: State<'_, Arc<SessionState>>) -> CmdResult<()> {
    Ok(session.reopen_browser()?)
}

#[tauri::command]
pub async fn sign_in_password(
    desktop: State<'_, Arc<Desktop>>,
    session: State<'_, Arc<SessionState>>,
    email: String,
    password: SecretString,
    stay_signed_in: bool,
) -> CmdResult<AccountDto> {
    let account = session
        .sign_in_password(&desktop, &email, password, stay_signed_in)
        .await?;
    Ok(account_dto(account, english(&desktop)))
}

/// A sign-in history row with the county's name.
#[derive(Debug, Serialize)]
pub struct HistoryDto {
    #[serde(flatten)]
    pub entry: HistoryEntry,
    pub county_name: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct KeychainDto {
    pub available: bool,
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct StatusDto {
    pub account: Option<AccountDto>,
    pub stay_signed_in: bool,
    pub keychain: KeychainDto,
    pub known_accounts: Vec<educloud_core::store::KnownAccount>,
    pub history: Vec<HistoryDto>,
}

#[tauri::command]
pub async fn session_status(
    desktop: State<'_, Arc<Desktop>>,
    session: State<'_, Arc<SessionState>>,
) -> CmdResult<StatusDto> {
    let status = session.status(&desktop).await?;
    let en = english(&desktop);
    let history = session
        .history(&desktop, 20)?
        .into_iter()
        .map(|entry| {
            let county_name = entry.county.as_deref().map(|c| {
                let (zh, e) = county_name(c);
                if en {
                    e
                } else {
                    zh
                }
            });
            HistoryDto { entry, county_name }
        })
        .collect();
    Ok(StatusDto {
        stay_signed_in: status.signed_in.as_ref().is_some_and(|s| s.stay_signed_in),
        account: status.signed_in.map(|s| account_dto(s.account, en)),
        keychain: KeychainDto {
            available: status.stay_signed_in.available,
            reason: status.stay_signed_in.reason,
        },
        known_accounts: status.known_accounts,
        history,
    })
}

/// Signs in silently with a session kept by 保持登入狀態 (at launch).
#[tauri::command]
pub async fn restore_session(
    desktop: State<'_, Arc<Desktop>>,
    session: State<'_, Arc<SessionState>>,
) -> CmdResult<Option<AccountDto>> {
    let en = english(&desktop);
    Ok(session
        .restore_at_launch(&desktop)
        .await?
        .map(|a| account_dto(a, en)))
}

#[tauri::command]
pub async fn switch_account(
    desktop: State<'_, Arc<Desktop>>,
    session: State<'_, Arc<SessionState>>,
    account: String,
) -> CmdResult<AccountDto> {
    let a = session.restore_account(&desktop, &account).await?;
    Ok(account_dto(a, english(&desktop)))
}

#[tauri::command]
pub async fn sign_out(
    desktop: State<'_, Arc<Desktop>>,
    session: State<'_, Arc<SessionState>>,
    all: bool,
) -> CmdResult<()> {
    session.sign_out(&desktop, all).await?;
    Ok(())
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
pub fn open_service(desktop: State<'_, Arc<Desktop>>, service: String) -> CmdResult<()> {
    let url = SERVICES
        .iter()
        .find(|(name, _)| *name == service)
        .map(|(_, url)| *url)
        .ok_or_else(|| ErrorDto::from(CoreError::invalid("service", "request.invalid")))?;
    Ok(desktop.browser.open(url)?)
}

/// Opens the demo environment's outbox (sandbox only).
#[tauri::command]
pub fn open_outbox(desktop: State<'_, Arc<Desktop>>) -> CmdResult<()> {
    let service = desktop.service().ok_or(CoreError::NotSignedIn)?;
    if service.kind != EnvironmentKind::Sandbox {
        return Err(CoreError::invalid("service", "request.invalid").into());
    }
    let url = service
        .base_url
        .join("outbox")
        .map_err(|e| ErrorDto::from(CoreError::Internal(e.to_string())))?;
    Ok(desktop.browser.open(url.as_str())?)
}

#[tauri::command]
pub async fn request_password_reset(
    desktop: State<'_, Arc<Desktop>>,
    email: String,
) -> CmdResult<()> {
    Ok(EduCloudClient::for_desktop(&desktop)
        .await?
        .request_password_reset(&email)
        .await?)
}

#[tauri::command]
pub async fn resend_activation(desktop: State<'_, Arc<Desktop>>, email: String) -> CmdResult<()> {
    Ok(EduCloudClient::for_desktop(&desktop)
        .await?
        .resend_activation(&email)
        .await?)
}
