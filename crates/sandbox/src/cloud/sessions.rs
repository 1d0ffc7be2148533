//! Sessions: password sign-in (argon2id, throttled per account and per
//! address, one generic error for a wrong e-mail or password), county token
//! exchange (verified like a relying party, each token exchanged once),
//! refresh with rotation and reuse detection, sign-out and `me`.
//!
//! Access and refresh tokens are opaque random strings; only their SHA-256
//! digests are stored. A session family is one sign-in: every refresh token
//! rotated from it and every access token issued with them. Presenting a
//! refresh token that was already rotated revokes the whole family.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use educloud_contract::county;
use educloud_contract::wire::{
    code, Account, AccountStatus, RefreshRequest, RevokeRequest, Secret, SessionRequest,
    SessionTokens, DESKTOP_CLIENT_ID, TOKEN_TYPE_ACCESS,
};
use rusqlite::{params, Connection, OptionalExtension};

use super::county::{CountyCheckError, CountyCredential, CountyIdentity};
use super::db::{self, account_by_id};
use super::problem::{ApiError, ApiJson, Bearer, ClientAddr};
use super::throttle::{PER_ACCOUNT, PER_ADDRESS};
use super::tokens::{digest, new_token};
use super::{created, AppState, Cloud};

/// Access token lifetime (seconds).
pub const ACCESS_TTL: i64 = 15 * 60;
/// Refresh token lifetime (seconds): 14 days.
pub const REFRESH_TTL: i64 = 14 * 24 * 60 * 60;

/// Starts a new session family for `account_id`.
fn start_family(conn: &Connection, account_id: i64, now: i64) -> rusqlite::Result<(i64, Tokens)> {
    // Housekeeping: access tokens a day past expiry, used county tokens
    // (valid for an hour at most) after a week.
    conn.execute(
        "DELETE FROM access_tokens WHERE expires_at < ?1",
        [now - 24 * 3600],
    )?;
    conn.execute(
        "DELETE FROM used_county_tokens WHERE used_at < ?1",
        [now - 7 * 24 * 3600],
    )?;
    conn.execute(
        "INSERT INTO session_families (account_id, created_at) VALUES (?1, ?2)",
        params![account_id, now],
    )?;
    let family = conn.last_insert_rowid();
    Ok((family, issue_in_family(conn, family, now)?))
}

struct Tokens {
    access: String,
    refresh: String,
}

fn issue_in_family(conn: &Connection, family: i64, now: i64) -> rusqlite::Result<Tokens> {
    let access = new_token();
    let refresh = new_token();
    conn.execute(
        "INSERT INTO access_tokens (digest, family_id, expires_at) VALUES (?1, ?2, ?3)",
        params![digest(&access), family, now + ACCESS_TTL],
    )?;
    conn.execute(
        "INSERT INTO refresh_tokens (digest, family_id, expires_at) VALUES (?1, ?2, ?3)",
        params![digest(&refresh), family, now + REFRESH_TTL],
    )?;
    Ok(Tokens { access, refresh })
}

fn session_tokens(tokens: Tokens, account: Account) -> SessionTokens {
    SessionTokens {
        access_token: Secret::new(tokens.access),
        token_type: "Bearer".into(),
        expires_in: ACCESS_TTL.unsigned_abs(),
        refresh_token: Secret::new(tokens.refresh),
        refresh_expires_in: REFRESH_TTL.unsigned_abs(),
        account,
    }
}

/// Revokes every session family of an account (password reset).
pub(crate) fn revoke_all(conn: &Connection, account_id: i64, now: i64) -> rusqlite::Result<usize> {
    conn.execute(
        "UPDATE session_families SET revoked_at = ?2 WHERE account_id = ?1 AND revoked_at IS NULL",
        params![account_id, now],
    )
}

/// `POST api/v1/sessions`.
pub(crate) async fn create(
    State(cloud): AppState,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<SessionRequest>,
) -> Result<(StatusCode, Json<SessionTokens>), ApiError> {
    match req {
        SessionRequest::Password { email, password } => {
            password_session(&cloud, addr, &email, &password).await
        }
        SessionRequest::County {
            county,
            id_token,
            access_token,
        } => county_session(&cloud, &county, id_token, access_token).await,
    }
    .map(created)
}

async fn password_session(
    cloud: &Arc<Cloud>,
    addr: Option<std::net::IpAddr>,
    email: &str,
    password: &Secret,
) -> Result<SessionTokens, ApiError> {
    let email = email.trim().to_lowercase();
    let now = cloud.now();
    let account_key = format!("account:{email}");
    let address_key = addr.map(|ip| format!("address:{ip}"));
    // The attempt is counted before the hash is checked, atomically for
    // both limits: parallel wrong passwords cannot all slip through.
    let mut limits = vec![(account_key.as_str(), PER_ACCOUNT)];
    if let Some(k) = address_key.as_deref() {
        limits.push((k, PER_ADDRESS));
    }
    let reservation = match cloud.throttle.reserve(&limits, now) {
        Ok(r) => r,
        Err(wait) => return Err(ApiError::new(code::AUTH_THROTTLED).retry_after(wait)),
    };
    let found: Option<(i64, String, String)> = cloud
        .db
        .lock()
        .query_row(
            "SELECT id, password_hash, status FROM accounts WHERE email = ?1",
            [&email],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let phc = found.as_ref().map(|(_, phc, _)| phc.clone());
    // A wrong password (or no such account) keeps the reserved attempt.
    if !cloud.hasher.verify(password, phc).await? {
        return Err(ApiError::new(code::AUTH_INVALID_CREDENTIALS));
    }
    let Some((id, _, status)) = found else {
        return Err(ApiError::new(code::AUTH_INVALID_CREDENTIALS));
    };
    cloud.throttle.release(reservation);
    if status != AccountStatus::Active.as_str() {
        return Err(ApiError::new(code::AUTH_NOT_ACTIVATED));
    }
    cloud.throttle.clear(&account_key);
    let conn = cloud.db.lock();
    let (_, tokens) = start_family(&conn, id, now)?;
    let account = account_by_id(&conn, id)?
        .ok_or_else(|| ApiError::internal("account vanished"))?
        .account;
    Ok(session_tokens(tokens, account))
}

/// Which county credential the request carries, as the county's profile
/// requires (an ID token, or the Taipei profile's access token).
pub(crate) fn county_credential<'a>(
    county_code: &str,
    id_token: Option<&'a Secret>,
    access_token: Option<&'a Secret>,
) -> Result<CountyCredential<'a>, ApiError> {
    let info = county::find(county_code).ok_or_else(|| {
        ApiError::new(code::COUNTY_UNKNOWN)
            .field("county")
            .detail("no county with this code")
    })?;
    if info.profile.has_id_token() {
        id_token
            .filter(|t| !t.is_empty())
            .map(|t| CountyCredential::IdToken(t.expose_secret()))
            .ok_or_else(|| {
                ApiError::new(code::REQUEST_INVALID)
                    .field("id_token")
                    .detail("this county signs in with an ID token")
            })
    } else {
        access_token
            .filter(|t| !t.is_empty())
            .map(|t| CountyCredential::AccessToken(t.expose_secret()))
            .ok_or_else(|| {
                ApiError::new(code::REQUEST_INVALID)
                    .field("access_token")
                    .detail("this county signs in with an access token")
            })
    }
}

/// Verifies a county credential with the county verifier.
pub(crate) async fn verify_county(
    cloud: &Cloud,
    county: &str,
    credential: CountyCredential<'_>,
) -> Result<CountyIdentity, ApiError> {
    cloud
        .counties
        .verify(county, credential, DESKTOP_CLIENT_ID)
        .await
        .map_err(|e| match e {
            CountyCheckError::UnknownCounty => ApiError::new(code::COUNTY_UNKNOWN).field("county"),
            CountyCheckError::Expired => ApiError::new(code::TOKEN_EXPIRED),
            CountyCheckError::WrongProfile(d) | CountyCheckError::Invalid(d) => {
                ApiError::new(code::TOKEN_INVALID).detail(d)
            }
        })
}

/// What identifies a county token for replay detection: the county's
/// token id (`jti`) when it gives one, else the token's digest.
fn credential_digest(
    county: &str,
    credential: CountyCredential<'_>,
    identity: &CountyIdentity,
) -> Vec<u8> {
    match (&identity.token_id, credential) {
        (Some(id), _) => digest(&format!("{county}:jti:{id}")),
        (None, CountyCredential::IdToken(t)) => digest(&format!("{county}:id:{t}")),
        (None, CountyCredential::AccessToken(t)) => digest(&format!("{county}:access:{t}")),
    }
}

async fn county_session(
    cloud: &Arc<Cloud>,
    county: &str,
    id_token: Option<Secret>,
    access_token: Option<Secret>,
) -> Result<SessionTokens, ApiError> {
    let credential = county_credential(county, id_token.as_ref(), access_token.as_ref())?;
    let identity = verify_county(cloud, county, credential).await?;
    let token_digest = credential_digest(county, credential, &identity);
    let now = cloud.now();
    let mut conn = cloud.db.lock();
    let tx = conn.transaction()?;
    let used: bool = tx
        .query_row(
            "SELECT 1 FROM used_county_tokens WHERE digest = ?1",
            [&token_digest],
            |_| Ok(()),
        )
        .optional()?
        .is_some();
    if used {
        return Err(ApiError::new(code::TOKEN_REPLAYED));
    }
    let id: Option<i64> = tx
        .query_row(
            "SELECT id FROM accounts WHERE county = ?1 AND sub = ?2",
            params![county, identity.sub],
            |r| r.get(0),
        )
        .optional()?;
    // Not bound: the token is left unused so it can go to `registrations`.
    let id = id.ok_or_else(|| ApiError::new(code::ACCOUNT_NOT_REGISTERED))?;
    tx.execute(
        "INSERT INTO used_county_tokens (digest, county, used_at) VALUES (?1, ?2, ?3)",
        params![token_digest, county, now],
    )
    .map_err(|e| match db::unique_violation(&e) {
        Some(_) => ApiError::new(code::TOKEN_REPLAYED),
        None => e.into(),
    })?;
    // The county is the authority on name, title and school: refresh them.
    tx.execute(
        "UPDATE accounts SET display_name = ?2, role = COALESCE(?3, role), \
         title = COALESCE(?4, title), school_id = COALESCE(?5, school_id), \
         school_name = COALESCE(?6, school_name) WHERE id = ?1",
        params![
            id,
            identity.name,
            identity.role,
            identity.title,
            identity.school_id,
            identity.school_name
        ],
    )?;
    let row = account_by_id(&tx, id)?.ok_or_else(|| ApiError::internal("account vanished"))?;
    if row.account.status != AccountStatus::Active {
        return Err(ApiError::new(code::AUTH_NOT_ACTIVATED));
    }
    let (_, tokens) = start_family(&tx, id, now)?;
    tx.commit()?;
    Ok(session_tokens(tokens, row.account))
}

struct RefreshRow {
    family: i64,
    rotated_at: Option<i64>,
    expires_at: i64,
    revoked_at: Option<i64>,
    account_id: i64,
}

/// `POST api/v1/sessions/refresh`.
pub(crate) async fn refresh(
    State(cloud): AppState,
    ApiJson(req): ApiJson<RefreshRequest>,
) -> Result<Json<SessionTokens>, ApiError> {
    let now = cloud.now();
    let token_digest = digest(req.refresh_token.expose_secret());
    let mut conn = cloud.db.lock();
    let tx = conn.transaction()?;
    let found = tx
        .query_row(
            "SELECT r.family_id, r.rotated_at, r.expires_at, f.revoked_at, f.account_id \
             FROM refresh_tokens r JOIN session_families f ON f.id = r.family_id \
             WHERE r.digest = ?1",
            [&token_digest],
            |r| {
                Ok(RefreshRow {
                    family: r.get(0)?,
                    rotated_at: r.get(1)?,
                    expires_at: r.get(2)?,
                    revoked_at: r.get(3)?,
                    account_id: r.get(4)?,
                })
            },
        )
        .optional()?;
    let Some(RefreshRow {
        family,
        rotated_at,
        expires_at,
        revoked_at,
        account_id,
    }) = found
    else {
        return Err(ApiError::new(code::REFRESH_INVALID));
    };
    if revoked_at.is_some() {
        return Err(ApiError::new(code::REFRESH_INVALID).detail("the session has ended"));
    }
    if rotated_at.is_some() {
        tx.execute(
            "UPDATE session_families SET revoked_at = ?2 WHERE id = ?1",
            params![family, now],
        )?;
        tx.commit()?;
        tracing::warn!(
            family,
            "rotated refresh token reused; session family revoked"
        );
        return Err(ApiError::new(code::REFRESH_REUSED));
    }
    if expires_at <= now {
        return Err(ApiError::new(code::REFRESH_INVALID).detail("the refresh token has expired"));
    }
    tx.execute(
        "UPDATE refresh_tokens SET rotated_at = ?2 WHERE digest = ?1",
        params![token_digest, now],
    )?;
    let row =
        account_by_id(&tx, account_id)?.ok_or_else(|| ApiError::new(code::REFRESH_INVALID))?;
    let tokens = issue_in_family(&tx, family, now)?;
    tx.commit()?;
    Ok(Json(session_tokens(tokens, row.account)))
}

/// The account and session family of a live access token.
pub(crate) fn authenticate(cloud: &Cloud, bearer: &str) -> Result<(i64, db::AccountRow), ApiError> {
    let now = cloud.now();
    let conn = cloud.db.lock();
    let found: Option<(i64, i64, Option<i64>, i64)> = conn
        .query_row(
            "SELECT t.family_id, t.expires_at, f.revoked_at, f.account_id \
             FROM access_tokens t JOIN session_families f ON f.id = t.family_id \
             WHERE t.digest = ?1",
            [digest(bearer)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        )
        .optional()?;
    let invalid = |detail: &str| {
        ApiError::new(code::SESSION_INVALID)
            .detail(detail)
            .bearer_challenge()
    };
    let Some((family, expires_at, revoked_at, account_id)) = found else {
        return Err(invalid("unknown access token"));
    };
    if revoked_at.is_some() {
        return Err(invalid("the session has ended"));
    }
    if expires_at <= now {
        return Err(invalid("the access token has expired"));
    }
    let row = account_by_id(&conn, account_id)?.ok_or_else(|| invalid("no such account"))?;
    Ok((family, row))
}

/// `DELETE api/v1/sessions/current`: ends the session family.
pub(crate) async fn delete_current(
    State(cloud): AppState,
    Bearer(token): Bearer,
) -> Result<StatusCode, ApiError> {
    let (family, _) = authenticate(&cloud, &token)?;
    cloud.db.lock().execute(
        "UPDATE session_families SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
        params![family, cloud.now()],
    )?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST api/v1/sessions/revoke` (RFC 7009 style): ends the session family
/// a refresh or access token belongs to, whatever that token's state
/// (expired, rotated): the app can always end a session it holds a token
/// of, also after its access token expired. 204 whether or not the token
/// was known, so the answer tells nothing about other people's tokens.
pub(crate) async fn revoke(
    State(cloud): AppState,
    ApiJson(req): ApiJson<RevokeRequest>,
) -> Result<StatusCode, ApiError> {
    let token_digest = digest(req.token.expose_secret());
    let by_refresh = "SELECT family_id FROM refresh_tokens WHERE digest = ?1";
    let by_access = "SELECT family_id FROM access_tokens WHERE digest = ?1";
    let order = if req.token_type_hint.as_deref() == Some(TOKEN_TYPE_ACCESS) {
        [by_access, by_refresh]
    } else {
        [by_refresh, by_access]
    };
    let conn = cloud.db.lock();
    let mut family: Option<i64> = None;
    for sql in order {
        family = conn
            .query_row(sql, [&token_digest], |r| r.get(0))
            .optional()?;
        if family.is_some() {
            break;
        }
    }
    if let Some(family) = family {
        let ended = conn.execute(
            "UPDATE session_families SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
            params![family, cloud.now()],
        )?;
        if ended > 0 {
            tracing::info!(family, "session revoked by token");
        }
    }
    Ok(StatusCode::NO_CONTENT)
}

/// `GET api/v1/me`.
pub(crate) async fn me(
    State(cloud): AppState,
    Bearer(token): Bearer,
) -> Result<Json<Account>, ApiError> {
    let (_, row) = authenticate(&cloud, &token)?;
    Ok(Json(row.account))
}
