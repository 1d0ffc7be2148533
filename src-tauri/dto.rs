//! What crosses the IPC boundary. Domain types stay in core; the UI receives
//! these small, serializable shapes. No secret is ever a field here. County
//! names are not here: the UI localises them from the codes (one place,
//! `ui/js/counties.js`).

use educloud_core::api::Account;
use educloud_core::oidc::{CountyIdentity, WaitingForBrowser};
use educloud_core::session::{SessionStatus, SignInOutcome, SignOutResult};
use educloud_core::store::{HistoryEntry, KnownAccount};
use educloud_core::CoreError;
use serde::Serialize;

/// An error as the UI sees it: a stable code its catalogs translate, the
/// field it belongs under, and diagnostic detail (never a secret).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ErrorDto {
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

impl From<CoreError> for ErrorDto {
    fn from(e: CoreError) -> Self {
        tracing::warn!(code = e.code(), error = %e, "command failed");
        ErrorDto {
            code: e.code().to_string(),
            field: e.field().map(str::to_string),
            detail: e.detail(),
        }
    }
}

pub type CmdResult<T> = Result<T, ErrorDto>;

/// An account as the UI shows it (display claims, no token).
pub type AccountDto = Account;

/// "請在瀏覽器中完成登入": the county (code), the link for 複製連結, whether
/// a browser was started.
pub type WaitingDto = WaitingForBrowser;

/// What sign-out did (revoked at the service or to be retried, the
/// county's logout page, keychain entries deleted).
pub type SignOutDto = SignOutResult;

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
        identity: CountyIdentity,
    },
}

impl From<SignInOutcome> for OutcomeDto {
    fn from(o: SignInOutcome) -> Self {
        match o {
            SignInOutcome::SignedIn(account) => OutcomeDto::SignedIn { account },
            SignInOutcome::NotRegistered(identity) => OutcomeDto::NotRegistered { identity },
        }
    }
}

/// Whether 保持登入狀態 can be offered, and the reason code when not.
#[derive(Debug, Serialize)]
pub struct KeychainDto {
    pub available: bool,
    pub reason: Option<String>,
}

/// The account screen.
#[derive(Debug, Serialize)]
pub struct StatusDto {
    pub account: Option<AccountDto>,
    pub stay_signed_in: bool,
    /// 保持登入狀態 was asked for but could not be kept: the reason's code
    /// (the UI says `error.session.stay_signed_in_failed` and this).
    pub stay_signed_in_problem: Option<String>,
    pub keychain: KeychainDto,
    pub known_accounts: Vec<KnownAccountDto>,
    pub history: Vec<HistoryEntry>,
    /// The service in use (`sandbox` or an origin; `null` while unknown).
    pub service_origin: Option<String>,
}

/// An account on this PC; `other_service`: its kept session belongs to
/// another service than the one in use, so it is shown but not signed in
/// (and never sent here).
#[derive(Debug, Serialize)]
pub struct KnownAccountDto {
    #[serde(flatten)]
    pub account: KnownAccount,
    pub other_service: bool,
}

impl From<SessionStatus> for StatusDto {
    fn from(s: SessionStatus) -> Self {
        StatusDto {
            stay_signed_in: s.signed_in.as_ref().is_some_and(|a| a.stay_signed_in),
            stay_signed_in_problem: s
                .signed_in
                .as_ref()
                .and_then(|a| a.stay_signed_in_problem.clone()),
            account: s.signed_in.map(|a| a.account),
            keychain: KeychainDto {
                available: s.stay_signed_in.available,
                reason: s.stay_signed_in.reason,
            },
            known_accounts: s
                .known_accounts
                .into_iter()
                .map(|account| KnownAccountDto {
                    other_service: account.stay_signed_in
                        && account.service_origin.is_some()
                        && account.service_origin != s.service_origin,
                    account,
                })
                .collect(),
            history: s.history,
            service_origin: s.service_origin,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_json_shape_is_stable() {
        let dto = ErrorDto::from(CoreError::invalid("nickname", "nickname.empty"));
        assert_eq!(
            serde_json::to_value(&dto).unwrap(),
            serde_json::json!({"code": "nickname.empty", "field": "nickname"})
        );
    }
}
