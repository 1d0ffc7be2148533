//! Registration (flow A) commands: terms, live checks, availability, the
//! avatar, drafts and submission. Each calls one `educloud_core::registration`
//! function.

use std::sync::Arc;

use educloud_contract::rules::{Field, RegistrationInput, RuleError};
use educloud_contract::wire::{Availability, RegistrationResponse, Terms};
use educloud_core::desktop::Desktop;
use educloud_core::registration::{self, FieldCheck, RegistrationDraft};
use educloud_core::session::SessionState;
use educloud_core::CoreError;
use serde::Serialize;
use tauri::State;

use crate::dto::{CmdResult, ErrorDto};

/// The largest avatar the UI may send (the rules refuse above 5 MB anyway;
/// this bounds the IPC message itself).
const MAX_AVATAR_IPC_BYTES: usize = 5 * 1024 * 1024 + 1;

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn terms(desktop: State<'_, Arc<Desktop>>) -> CmdResult<Terms> {
    // The form follows: prepare what its first keystroke in 密碼 needs.
    registration::warm_up_in_background();
    Ok(registration::terms(&desktop).await?)
}

/// A live check's result as the UI reads it.
#[derive(Debug, Serialize)]
pub struct FieldCheckDto {
    pub error: Option<ErrorDto>,
    pub strength: Option<u8>,
}

fn rule_dto(e: &RuleError) -> ErrorDto {
    ErrorDto {
        code: e.code.to_string(),
        field: Some(e.field.as_str().to_string()),
        detail: None,
    }
}

impl From<FieldCheck> for FieldCheckDto {
    fn from(c: FieldCheck) -> Self {
        FieldCheckDto {
            error: c.error.as_ref().map(rule_dto),
            strength: c.strength,
        }
    }
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn validate_field(
    desktop: State<'_, Arc<Desktop>>,
    field: String,
    input: RegistrationInput,
) -> CmdResult<FieldCheckDto> {
    let field: Field = field
        .parse()
        .map_err(|_| ErrorDto::from(CoreError::invalid("field", "request.invalid")))?;
    let policy = registration::password_policy(&desktop).await;
    Ok(registration::check_field(field, &input, &policy).into())
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn validate_registration(
    desktop: State<'_, Arc<Desktop>>,
    input: RegistrationInput,
) -> CmdResult<Vec<ErrorDto>> {
    let policy = registration::password_policy(&desktop).await;
    Ok(registration::check_form(&input, &policy)
        .iter()
        .map(rule_dto)
        .collect())
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn check_availability(
    desktop: State<'_, Arc<Desktop>>,
    name: String,
) -> CmdResult<Availability> {
    Ok(registration::availability(&desktop, &name).await?)
}

#[derive(Debug, Serialize)]
pub struct AvatarDto {
    pub data_url: String,
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn process_avatar(bytes: Vec<u8>) -> CmdResult<AvatarDto> {
    if bytes.len() > MAX_AVATAR_IPC_BYTES {
        return Err(CoreError::invalid("avatar", "avatar.too_large").into());
    }
    // Decoding is CPU work: keep it off the async workers.
    let data_url =
        tauri::async_runtime::spawn_blocking(move || registration::process_avatar(&bytes))
            .await
            .map_err(|e| ErrorDto::from(CoreError::Internal(e.to_string())))??;
    Ok(AvatarDto { data_url })
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn save_draft(
    desktop: State<'_, Arc<Desktop>>,
    draft: RegistrationDraft,
) -> CmdResult<bool> {
    Ok(registration::save(
        &desktop.store,
        desktop.policy(),
        &draft,
    )?)
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn load_draft(desktop: State<'_, Arc<Desktop>>) -> CmdResult<Option<RegistrationDraft>> {
    registration::warm_up_in_background();
    Ok(registration::load(&desktop.store, desktop.policy())?)
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn discard_draft(desktop: State<'_, Arc<Desktop>>) -> CmdResult<()> {
    Ok(registration::discard(&desktop.store)?)
}

#[tauri::command]
#[tracing::instrument(skip_all)]
pub async fn submit_registration(
    desktop: State<'_, Arc<Desktop>>,
    session: State<'_, Arc<SessionState>>,
    input: RegistrationInput,
    avatar: Option<String>,
) -> CmdResult<RegistrationResponse> {
    let county = session.pending_county();
    let response =
        registration::submit(&desktop, &input, county.as_ref(), avatar.as_deref()).await?;
    // The county identity has served its purpose: nothing of it stays.
    drop(session.take_pending_registration());
    Ok(response)
}
