//! Everything that goes through the mailbox: activation of "other" members
//! (link valid 24 h, once; resend at most once a minute and five times a
//! day) and password resets (link valid 1 h, once; a reset ends every
//! session of the account). Also the two landing pages the links open:
//! `{base}activate?token=…` and `{base}reset?token=…`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Form, Json};
use educloud_contract::wire::{
    code, Account, AccountStatus, ActivationRequest, EmailRequest, PasswordResetConfirm, Secret,
};
use rusqlite::{params, Connection, OptionalExtension};
use serde::Deserialize;

use super::db::{account_by_email, account_by_id};
use super::pages::{escape, page};
use super::problem::{ApiError, ApiJson, ApiQuery};
use super::sessions::revoke_all;
use super::tokens::{digest, new_token};
use super::{validation, AppState, Cloud};
use crate::outbox::Mail;

/// Activation links are valid for 24 hours.
pub const ACTIVATION_TTL: i64 = 24 * 60 * 60;
/// Reset links are valid for 1 hour.
pub const RESET_TTL: i64 = 60 * 60;
/// At most one activation mail a minute …
pub const RESEND_MIN_INTERVAL: i64 = 60;
/// … and five a day (the registration's own mail counts).
pub const RESEND_PER_DAY: i64 = 5;
/// Reset mails beyond five an hour are silently not sent (the answer stays
/// 202, so nobody learns whether an address has an account).
pub const RESETS_PER_HOUR: i64 = 5;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Activation,
    Reset,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Activation => "activation",
            Kind::Reset => "reset",
        }
    }
}

/// Stores a new one-time token of `kind` for `account_id`, returns it.
fn new_mail_token(
    conn: &Connection,
    kind: Kind,
    account_id: i64,
    now: i64,
) -> rusqlite::Result<String> {
    let token = new_token();
    let ttl = match kind {
        Kind::Activation => ACTIVATION_TTL,
        Kind::Reset => RESET_TTL,
    };
    conn.execute(
        "INSERT INTO mail_tokens (digest, kind, account_id, created_at, expires_at) \
         VALUES (?1, ?2, ?3, ?4, ?5)",
        params![digest(&token), kind.as_str(), account_id, now, now + ttl],
    )?;
    Ok(token)
}

fn mails_since(
    conn: &Connection,
    kind: Kind,
    account_id: i64,
    since: i64,
) -> rusqlite::Result<i64> {
    conn.query_row(
        "SELECT COUNT(*) FROM mail_tokens WHERE account_id = ?1 AND kind = ?2 AND created_at > ?3",
        params![account_id, kind.as_str(), since],
        |r| r.get(0),
    )
}

/// Creates an activation token for a new member (inside the registration's
/// transaction); send the returned mail after committing.
pub(crate) fn activation_mail(
    cloud: &Cloud,
    conn: &Connection,
    account: &Account,
    account_id: i64,
    now: i64,
) -> rusqlite::Result<Mail> {
    let token = new_mail_token(conn, Kind::Activation, account_id, now)?;
    let link = cloud.link(&format!("activate?token={token}"));
    Ok(Mail {
        to: account.email.clone(),
        subject: "教育雲帳號啟用通知 / Activate your Education Cloud account".into(),
        body: format!(
            "{name} 您好：\n\n感謝您註冊教育雲。請在 24 小時內開啟下列連結，啟用您的帳號 {email}：\n\n\
             {link}\n\n此連結只能使用一次。如果您沒有註冊教育雲，請忽略這封信。\n\n\
             ----\n\nHello {name},\n\nThank you for registering with Education Cloud. Open this \
             link within 24 hours to activate your account {email}:\n\n{link}\n\nThe link works \
             once. If you did not register, ignore this mail.\n",
            name = account.display_name,
            email = account.email,
        ),
        links: vec![link],
    })
}

fn reset_mail(cloud: &Cloud, account: &Account, token: &str) -> Mail {
    let link = cloud.link(&format!("reset?token={token}"));
    Mail {
        to: account.email.clone(),
        subject: "教育雲密碼重設 / Reset your Education Cloud password".into(),
        body: format!(
            "{name} 您好：\n\n我們收到重設教育雲帳號 {email} 密碼的要求。請在 1 小時內開啟下列連結設定新密碼：\n\n\
             {link}\n\n此連結只能使用一次；重設後，所有已登入的裝置都會被登出。\
             如果您沒有提出這項要求，請忽略這封信，您的密碼不會改變。\n\n----\n\n\
             Hello {name},\n\nSomeone asked to reset the password of the Education Cloud account \
             {email}. Open this link within 1 hour to choose a new password:\n\n{link}\n\n\
             The link works once; after the reset every signed-in device is signed out. If you \
             did not ask for this, ignore this mail and your password stays the same.\n",
            name = account.display_name,
            email = account.email,
        ),
        links: vec![link],
    }
}

/// Sends a mail, logging (not failing) when the outbox cannot store it.
pub(crate) fn deliver(cloud: &Cloud, mail: Mail) -> Result<(), ApiError> {
    cloud
        .outbox
        .send(mail, cloud.now())
        .map(|_| ())
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// A live one-time token: (account id, token digest).
enum Lookup {
    Valid(i64, Vec<u8>),
    Invalid,
    Expired,
}

fn lookup(conn: &Connection, kind: Kind, token: &str, now: i64) -> rusqlite::Result<Lookup> {
    let d = digest(token);
    let found: Option<(i64, i64, Option<i64>)> = conn
        .query_row(
            "SELECT account_id, expires_at, used_at FROM mail_tokens WHERE digest = ?1 AND kind = ?2",
            params![d, kind.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    Ok(match found {
        None | Some((_, _, Some(_))) => Lookup::Invalid,
        Some((_, expires_at, None)) if expires_at <= now => Lookup::Expired,
        Some((id, _, None)) => Lookup::Valid(id, d),
    })
}

fn do_activate(cloud: &Cloud, token: &str) -> Result<Account, ApiError> {
    let now = cloud.now();
    let mut conn = cloud.db.lock();
    let tx = conn.transaction()?;
    let (account_id, d) = match lookup(&tx, Kind::Activation, token, now)? {
        Lookup::Valid(id, d) => (id, d),
        Lookup::Invalid => return Err(ApiError::new(code::ACTIVATION_INVALID)),
        Lookup::Expired => return Err(ApiError::new(code::ACTIVATION_EXPIRED)),
    };
    tx.execute(
        "UPDATE mail_tokens SET used_at = ?2 WHERE digest = ?1",
        params![d, now],
    )?;
    tx.execute(
        "UPDATE accounts SET status = 'active' WHERE id = ?1",
        [account_id],
    )?;
    let row =
        account_by_id(&tx, account_id)?.ok_or_else(|| ApiError::new(code::ACTIVATION_INVALID))?;
    tx.commit()?;
    tracing::info!(account_id, "account activated");
    Ok(row.account)
}

/// `POST api/v1/activations`.
pub(crate) async fn activate(
    State(cloud): AppState,
    ApiJson(req): ApiJson<ActivationRequest>,
) -> Result<Json<Account>, ApiError> {
    do_activate(&cloud, req.token.expose_secret()).map(Json)
}

/// `POST api/v1/activations/resend`: 202 whether or not the address has a
/// pending account; 429 `activation.throttled` when a pending account had a
/// mail in the last minute or five in the last day.
pub(crate) async fn resend_activation(
    State(cloud): AppState,
    ApiJson(req): ApiJson<EmailRequest>,
) -> Result<StatusCode, ApiError> {
    let email = req.email.trim().to_lowercase();
    let now = cloud.now();
    let mail = {
        let conn = cloud.db.lock();
        let Some(row) = account_by_email(&conn, &email)? else {
            return Ok(StatusCode::ACCEPTED);
        };
        if row.account.status != AccountStatus::PendingActivation {
            return Ok(StatusCode::ACCEPTED);
        }
        if mails_since(&conn, Kind::Activation, row.id, now - RESEND_MIN_INTERVAL)? > 0 {
            let last: i64 = conn.query_row(
                "SELECT MAX(created_at) FROM mail_tokens WHERE account_id = ?1 AND kind = 'activation'",
                [row.id],
                |r| r.get(0),
            )?;
            let wait = (last + RESEND_MIN_INTERVAL - now).max(1);
            return Err(ApiError::new(code::ACTIVATION_THROTTLED)
                .detail("at most one activation mail a minute")
                .retry_after(wait.unsigned_abs()));
        }
        if mails_since(&conn, Kind::Activation, row.id, now - 24 * 60 * 60)? >= RESEND_PER_DAY {
            return Err(ApiError::new(code::ACTIVATION_THROTTLED)
                .detail("at most five activation mails a day")
                .retry_after(3600));
        }
        activation_mail(&cloud, &conn, &row.account, row.id, now)?
    };
    deliver(&cloud, mail)?;
    Ok(StatusCode::ACCEPTED)
}

/// `POST api/v1/password-resets`: always 202.
pub(crate) async fn request_reset(
    State(cloud): AppState,
    ApiJson(req): ApiJson<EmailRequest>,
) -> Result<StatusCode, ApiError> {
    let email = req.email.trim().to_lowercase();
    let now = cloud.now();
    let mail = {
        let conn = cloud.db.lock();
        match account_by_email(&conn, &email)? {
            Some(row) if mails_since(&conn, Kind::Reset, row.id, now - 3600)? < RESETS_PER_HOUR => {
                let token = new_mail_token(&conn, Kind::Reset, row.id, now)?;
                Some(reset_mail(&cloud, &row.account, &token))
            }
            _ => None,
        }
    };
    if let Some(mail) = mail {
        deliver(&cloud, mail)?;
    }
    Ok(StatusCode::ACCEPTED)
}

/// Sets a new password with a reset token; revokes every session.
async fn do_reset(
    cloud: &Cloud,
    token: &str,
    password: &Secret,
    confirm: &Secret,
) -> Result<(), ApiError> {
    let now = cloud.now();
    let (account_id, email) = {
        let conn = cloud.db.lock();
        match lookup(&conn, Kind::Reset, token, now)? {
            Lookup::Valid(id, _) => {
                let row =
                    account_by_id(&conn, id)?.ok_or_else(|| ApiError::new(code::RESET_INVALID))?;
                (id, row.account.email)
            }
            Lookup::Invalid => return Err(ApiError::new(code::RESET_INVALID)),
            Lookup::Expired => return Err(ApiError::new(code::RESET_EXPIRED)),
        }
    };
    validation::new_password(password, confirm, &email)?;
    let phc = cloud.hasher.hash(password).await?;
    let mut conn = cloud.db.lock();
    let tx = conn.transaction()?;
    // Re-check under the lock: the token may have been used meanwhile.
    let d = match lookup(&tx, Kind::Reset, token, now)? {
        Lookup::Valid(_, d) => d,
        Lookup::Invalid => return Err(ApiError::new(code::RESET_INVALID)),
        Lookup::Expired => return Err(ApiError::new(code::RESET_EXPIRED)),
    };
    tx.execute(
        "UPDATE mail_tokens SET used_at = ?2 WHERE digest = ?1",
        params![d, now],
    )?;
    tx.execute(
        "UPDATE accounts SET password_hash = ?2 WHERE id = ?1",
        params![account_id, phc],
    )?;
    let revoked = revoke_all(&tx, account_id, now)?;
    tx.commit()?;
    cloud.throttle.clear(&format!("account:{email}"));
    tracing::info!(account_id, revoked, "password reset; sessions revoked");
    Ok(())
}

/// `POST api/v1/password-resets/{token}`.
pub(crate) async fn confirm_reset(
    State(cloud): AppState,
    Path(token): Path<String>,
    ApiJson(req): ApiJson<PasswordResetConfirm>,
) -> Result<StatusCode, ApiError> {
    do_reset(&cloud, &token, &req.password, &req.password_confirm).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize)]
pub(crate) struct TokenQuery {
    token: Option<String>,
}

/// `GET {base}activate?token=…`: the link in the activation mail.
pub(crate) async fn activate_page(
    State(cloud): AppState,
    ApiQuery(q): ApiQuery<TokenQuery>,
) -> Response {
    let result = match q.token {
        Some(t) => do_activate(&cloud, &t),
        None => Err(ApiError::new(code::ACTIVATION_INVALID)),
    };
    match result {
        Ok(account) => page(
            StatusCode::OK,
            "啟用成功",
            &format!(
                "<h1 class=\"ok\" id=\"result\">啟用成功</h1><p>您的教育雲帳號 <b id=\"account\">{}</b> \
                 已經啟用，現在可以回到 EduCloud Desktop 登入。</p>\
                 <p lang=\"en\">Activation successful: your Education Cloud account is active. \
                 Return to EduCloud Desktop and sign in.</p>",
                escape(&account.email)
            ),
        ),
        Err(e) => {
            let expired = e.code() == code::ACTIVATION_EXPIRED;
            let (zh, en) = if expired {
                (
                    "啟用連結已過期，請回到 EduCloud Desktop 重新寄送啟用信。",
                    "This activation link has expired. Ask EduCloud Desktop to send a new one.",
                )
            } else {
                (
                    "啟用連結無效或已經使用過。",
                    "This activation link is not valid or has already been used.",
                )
            };
            let status = StatusCode::from_u16(e.problem().status).unwrap_or(StatusCode::BAD_REQUEST);
            page(
                status,
                "啟用失敗",
                &format!(
                    "<h1 class=\"err\" id=\"result\">啟用失敗</h1><p>{zh}</p><p lang=\"en\">{en}</p>\
                     <p class=\"meta\" id=\"code\">{}</p>",
                    escape(e.code())
                ),
            )
        }
    }
}

fn reset_form_html(token: &str, error: Option<&str>) -> String {
    let err = error.map_or(String::new(), |c| {
        format!(
            "<p class=\"err\" id=\"reset-error\">無法設定這組密碼 / This password cannot be used: \
             <code>{}</code></p>",
            escape(c)
        )
    });
    format!(
        "<h1>重設密碼 Reset password</h1>{err}\
         <form method=\"post\" action=\"reset\"><input type=\"hidden\" name=\"token\" value=\"{t}\">\
         <label for=\"password\">新密碼 New password</label>\
         <input type=\"password\" id=\"password\" name=\"password\" autocomplete=\"new-password\" required>\
         <label for=\"password_confirm\">確認新密碼 Confirm</label>\
         <input type=\"password\" id=\"password_confirm\" name=\"password_confirm\" autocomplete=\"new-password\" required>\
         <p class=\"meta\">8–64 個字元，至少包含大寫、小寫、數字、符號其中三種，且不可包含帳號名稱。\
         8–64 characters, three of upper / lower / digit / symbol, not containing the account name.</p>\
         <button type=\"submit\" id=\"submit\">送出</button></form>",
        t = escape(token)
    )
}

fn reset_link_error(e: &ApiError) -> Response {
    let status = StatusCode::from_u16(e.problem().status).unwrap_or(StatusCode::BAD_REQUEST);
    page(
        status,
        "重設密碼",
        &format!(
            "<h1 class=\"err\" id=\"result\">連結無效</h1><p>這個重設密碼連結已過期或已經使用過，請重新申請。</p>\
             <p lang=\"en\">This reset link has expired or was already used; ask for a new one.</p>\
             <p class=\"meta\" id=\"code\">{}</p>",
            escape(e.code())
        ),
    )
}

/// `GET {base}reset?token=…`: the form behind the reset mail's link.
pub(crate) async fn reset_page(
    State(cloud): AppState,
    ApiQuery(q): ApiQuery<TokenQuery>,
) -> Response {
    let token = q.token.unwrap_or_default();
    let state = {
        let conn = cloud.db.lock();
        lookup(&conn, Kind::Reset, &token, cloud.now())
    };
    match state {
        Ok(Lookup::Valid(..)) => page(StatusCode::OK, "重設密碼", &reset_form_html(&token, None)),
        Ok(Lookup::Invalid) => reset_link_error(&ApiError::new(code::RESET_INVALID)),
        Ok(Lookup::Expired) => reset_link_error(&ApiError::new(code::RESET_EXPIRED)),
        Err(e) => reset_link_error(&ApiError::from(e)),
    }
}

#[derive(Deserialize)]
pub(crate) struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

/// `POST {base}reset`: the form's submission.
pub(crate) async fn reset_form(State(cloud): AppState, Form(form): Form<ResetForm>) -> Response {
    let password = Secret::new(form.password);
    let confirm = Secret::new(form.password_confirm);
    match do_reset(&cloud, &form.token, &password, &confirm).await {
        Ok(()) => page(
            StatusCode::OK,
            "密碼已重設",
            "<h1 class=\"ok\" id=\"result\">密碼已重設</h1><p>請使用新密碼登入。為了安全，所有裝置都已登出。</p>\
             <p lang=\"en\">Your password has been reset. Sign in with the new password; every \
             device was signed out.</p>",
        ),
        Err(e) if e.problem().status == 422 => page(
            StatusCode::UNPROCESSABLE_ENTITY,
            "重設密碼",
            &reset_form_html(&form.token, Some(e.code())),
        ),
        Err(e) => reset_link_error(&e),
    }
}
