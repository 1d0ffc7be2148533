//! `POST api/v1/registrations`: the server side of the registration form.
//!
//! Order of checks: body shape (400) → terms version (409
//! `terms.outdated`) → every field rule and the avatar (422, all errors at
//! once) → staff: county token verified (401) and not yet bound (409
//! `openid.already_bound`) → the insert, whose UNIQUE constraints decide
//! races (409 `account.taken` / `openid.already_bound`).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use educloud_contract::county;
use educloud_contract::rules::{
    validate_registration, Avatar, Identity, RegistrationInput, RuleError,
};
use educloud_contract::wire::{code, AccountStatus, RegistrationResponse, Secret};
use rusqlite::{params, OptionalExtension};
use serde::Deserialize;

use super::county::CountyIdentity;
use super::db::{account_by_id, unique_violation};
use super::mailflows::{activation_mail, deliver};
use super::problem::{ApiError, ApiJson};
use super::sessions::{county_credential, verify_county};
use super::validation::{field_error, policy, rule_errors};
use super::{AppState, TERMS_VERSION};

/// The members of the body the rule set does not read.
#[derive(Deserialize)]
struct Extras {
    #[serde(default)]
    id_token: Option<Secret>,
    #[serde(default)]
    access_token: Option<Secret>,
    #[serde(default)]
    avatar: Option<String>,
}

fn bad_body(e: serde_json::Error) -> ApiError {
    ApiError::new(code::REQUEST_INVALID).detail(e.to_string().chars().take(200).collect::<String>())
}

pub(crate) async fn register(
    State(cloud): AppState,
    ApiJson(body): ApiJson<serde_json::Value>,
) -> Result<(StatusCode, Json<RegistrationResponse>), ApiError> {
    let input = RegistrationInput::deserialize(&body).map_err(bad_body)?;
    let extras = Extras::deserialize(&body).map_err(bad_body)?;
    drop(body);

    let terms = input.terms_version.trim();
    if !terms.is_empty() && terms != TERMS_VERSION {
        return Err(ApiError::new(code::TERMS_OUTDATED)
            .detail(format!("the current terms version is {TERMS_VERSION}")));
    }

    // Every field rule, plus the avatar (decoded off the async workers).
    let checked = validate_registration(&input, &policy());
    let avatar = match extras.avatar.filter(|a| !a.trim().is_empty()) {
        None => Ok(None),
        Some(b64) => tokio::task::spawn_blocking(move || Avatar::from_base64(&b64))
            .await
            .map_err(ApiError::internal)?
            .map(Some),
    };
    let (valid, avatar) = match (checked, avatar) {
        (Ok(valid), Ok(avatar)) => (valid, avatar),
        (checked, avatar) => {
            let mut errors: Vec<RuleError> = checked.err().unwrap_or_default();
            if let Err(e) = avatar {
                errors.push(e);
            }
            errors.sort_by_key(|e| e.field);
            return Err(rule_errors(&errors));
        }
    };

    // Staff: who the county says this is; refuse an Open ID already bound.
    let staff: Option<(String, CountyIdentity)> = match valid.identity() {
        Identity::Other => None,
        Identity::Staff => {
            let code = valid
                .county()
                .ok_or_else(|| field_error("county", "required"))?
                .to_owned();
            if county::find(&code).is_none() {
                return Err(field_error("county", code::COUNTY_UNKNOWN));
            }
            let credential = county_credential(
                &code,
                extras.id_token.as_ref(),
                extras.access_token.as_ref(),
            )?;
            let identity = verify_county(&cloud, &code, credential).await?;
            let bound = cloud
                .db
                .lock()
                .query_row(
                    "SELECT 1 FROM accounts WHERE county = ?1 AND sub = ?2",
                    params![code, identity.sub],
                    |_| Ok(()),
                )
                .optional()?
                .is_some();
            if bound {
                return Err(ApiError::new(code::OPENID_ALREADY_BOUND));
            }
            Some((code, identity))
        }
    };

    let phc = cloud
        .hasher
        .hash(&Secret::new(valid.password().expose()))
        .await?;
    let now = cloud.now();
    let email = valid.account().as_str().to_owned();
    let (display_name, status) = match (&staff, valid.name()) {
        (Some((_, who)), _) => (who.name.clone(), AccountStatus::Active),
        (None, Some(name)) => (name.as_str().to_owned(), AccountStatus::PendingActivation),
        (None, None) => return Err(field_error("name", "required")),
    };
    let phone = valid.phone().map(|p| match p.extension() {
        Some(ext) => format!("{};ext={ext}", p.e164()),
        None => p.e164().to_owned(),
    });
    let (county_code, who) = match &staff {
        Some((c, who)) => (Some(c.as_str()), Some(who)),
        None => (None, None),
    };
    let avatar_png = avatar.map(|a| a.into_png_bytes());

    let (row, mail) = {
        let mut conn = cloud.db.lock();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO accounts (email, identity, status, password_hash, display_name, nickname, \
             backup_email, phone, gender, county, sub, role, title, school_id, school_name, \
             avatar, avatar_type, created_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            params![
                email,
                if staff.is_some() { "staff" } else { "other" },
                status.as_str(),
                phc,
                display_name,
                valid.nickname().as_str(),
                valid.backup_email().as_str(),
                phone,
                valid.gender().map(|g| g.as_str()),
                county_code,
                who.map(|w| w.sub.as_str()),
                who.and_then(|w| w.role.as_deref()),
                who.and_then(|w| w.title.as_deref()),
                who.and_then(|w| w.school_id.as_deref()),
                who.and_then(|w| w.school_name.as_deref()),
                avatar_png,
                avatar_png.as_ref().map(|_| "image/png"),
                now
            ],
        )
        .map_err(|e| match unique_violation(&e) {
            Some("email") => ApiError::new(code::ACCOUNT_TAKEN).field(if staff.is_some() {
                "account_name"
            } else {
                "email"
            }),
            Some("openid") => ApiError::new(code::OPENID_ALREADY_BOUND),
            _ => ApiError::from(e),
        })?;
        let id = tx.last_insert_rowid();
        let row = account_by_id(&tx, id)?.ok_or_else(|| ApiError::internal("account vanished"))?;
        let mail = match status {
            AccountStatus::PendingActivation => {
                Some(activation_mail(&cloud, &tx, &row.account, id, now)?)
            }
            AccountStatus::Active => None,
        };
        tx.commit()?;
        (row, mail)
    };
    tracing::info!(
        identity = if staff.is_some() { "staff" } else { "other" },
        "account registered"
    );
    if let Some(mail) = mail {
        deliver(&cloud, mail)?;
    }
    let status = row.account.status;
    Ok((
        StatusCode::CREATED,
        Json(RegistrationResponse {
            account: row.account,
            status,
        }),
    ))
}
