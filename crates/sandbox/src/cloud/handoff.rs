//! The one-time web hand-off (issue 13 item 7): the app, signed in, asks for
//! a link that signs a browser in on the service's web pages (the
//! 教育雲服務) without a second sign-in.
//!
//! - `POST api/v1/web-handoffs` (Bearer) `{target}` → 201 `{url, expires_in,
//!   target}`: a 256-bit single-use code in the URL's path, valid
//!   [`HANDOFF_TTL`] seconds, bound to the access token's session family and
//!   to the target page. Only its digest is stored.
//! - `GET /handoff/{code}` (the browser): redeems the code at most once —
//!   unused, in time, its session not revoked — and answers 303 to
//!   `/web/{target}` with a web-session cookie (HttpOnly, SameSite=Lax,
//!   Secure over HTTPS) bound to the same session family; anything else is
//!   one 410 page that signs nobody in and says no more than "expired".
//! - `GET /web/{target}`: the target page, saying who is signed in (or
//!   nobody). A web session ends with its session family (sign-out,
//!   revocation, password reset) or after [`WEB_SESSION_TTL`].
//!
//! The code is never logged: the handlers log the target and outcome only,
//! and the answers carry `Referrer-Policy: no-referrer` and `no-store`.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use educloud_contract::text::escape_html;
use educloud_contract::wire::{code, Secret, WebHandoff, WebHandoffRequest, WEB_TARGETS};
use rusqlite::{params, OptionalExtension};

use super::pages::page;
use super::problem::{ApiError, ApiJson, Bearer};
use super::sessions::authenticate;
use super::tokens::{digest, new_token};
use super::{created, AppState, Cloud};

/// How long a hand-off link can be used (seconds).
pub const HANDOFF_TTL: i64 = 60;
/// How long a browser stays signed in from one hand-off (seconds), at most.
pub const WEB_SESSION_TTL: i64 = 8 * 60 * 60;
/// The web-session cookie.
pub const WEB_COOKIE: &str = "educloud_web";

/// The target's name (zh-TW, English).
fn target_name(target: &str) -> Option<(&'static str, &'static str)> {
    Some(match target {
        "portal" => ("教育雲", "Education Cloud"),
        "market" => ("教育大市集", "Education Marketplace"),
        "pedia" => ("教育百科", "Education Encyclopedia"),
        "video" => ("教育媒體影音", "Education Media"),
        _ => return None,
    })
}

/// `POST api/v1/web-handoffs`.
pub(crate) async fn create(
    State(cloud): AppState,
    Bearer(token): Bearer,
    ApiJson(req): ApiJson<WebHandoffRequest>,
) -> Result<(StatusCode, Json<WebHandoff>), ApiError> {
    let (family, _) = authenticate(&cloud, &token)?;
    if !WEB_TARGETS.contains(&req.target.as_str()) {
        return Err(ApiError::new(code::REQUEST_INVALID)
            .field("target")
            .detail("target must be one of portal, market, pedia, video"));
    }
    let now = cloud.now();
    let handoff = new_token();
    {
        let conn = cloud.db.lock();
        conn.execute(
            "DELETE FROM web_handoffs WHERE expires_at < ?1",
            [now - 3600],
        )?;
        conn.execute(
            "INSERT INTO web_handoffs (digest, family_id, target, expires_at) VALUES (?1, ?2, ?3, ?4)",
            params![digest(&handoff), family, req.target, now + HANDOFF_TTL],
        )?;
    }
    tracing::info!(target = %req.target, "web hand-off issued");
    Ok(created(WebHandoff {
        url: Secret::new(cloud.link(&format!("handoff/{handoff}"))),
        expires_in: HANDOFF_TTL.unsigned_abs(),
        target: req.target,
    }))
}

fn private(mut res: Response) -> Response {
    let h = res.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    res
}

fn link_expired() -> Response {
    private(page(
        StatusCode::GONE,
        "登入連結已失效 Link expired",
        "<h1>登入連結已失效</h1>\
         <p id=\"handoff-failed\" class=\"err\">這個登入連結已經用過、已逾時（60 秒），或它的登入已結束，沒有登入任何人。\
         請回到 EduCloud 再開啟一次。</p>\
         <p class=\"meta\">This sign-in link was already used, is older than 60 seconds, or its session has ended: \
         nobody was signed in. Open the service again from EduCloud.</p>",
    ))
}

/// `GET /handoff/{code}`: redeems a hand-off at most once.
pub(crate) async fn redeem(
    State(cloud): AppState,
    jar: CookieJar,
    Path(handoff): Path<String>,
) -> Response {
    match redeem_code(&cloud, &handoff) {
        Ok(Some((target, web_token))) => {
            tracing::info!(target = %target, "web hand-off redeemed");
            let cookie = Cookie::build((WEB_COOKIE, web_token))
                .path("/")
                .http_only(true)
                .secure(cloud.base_url().scheme() == "https")
                .same_site(SameSite::Lax)
                .max_age(time::Duration::seconds(WEB_SESSION_TTL))
                .build();
            let mut res = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("/web/{target}")) {
                res.headers_mut().insert(header::LOCATION, v);
            }
            private((jar.add(cookie), res).into_response())
        }
        Ok(None) => {
            tracing::info!("web hand-off refused (unknown, used, late or ended)");
            link_expired()
        }
        Err(e) => {
            tracing::warn!(error = %e, "web hand-off failed");
            private(page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "錯誤 Error",
                "<p class=\"err\">服務發生錯誤。 Server error.</p>",
            ))
        }
    }
}

/// Marks the hand-off used and opens a web session, in one transaction;
/// `None` when the code is unknown, used, late, or its session ended.
fn redeem_code(cloud: &Cloud, handoff: &str) -> rusqlite::Result<Option<(String, String)>> {
    let now = cloud.now();
    let mut conn = cloud.db.lock();
    let tx = conn.transaction()?;
    // Used once: the UPDATE decides, whoever comes second finds used_at set.
    let claimed: Option<(i64, String)> = tx
        .query_row(
            "UPDATE web_handoffs SET used_at = ?2 \
             WHERE digest = ?1 AND used_at IS NULL AND expires_at > ?2 \
             RETURNING family_id, target",
            params![digest(handoff), now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((family, target)) = claimed else {
        return Ok(None);
    };
    let live: bool = tx
        .query_row(
            "SELECT revoked_at IS NULL FROM session_families WHERE id = ?1",
            [family],
            |r| r.get(0),
        )
        .optional()?
        .unwrap_or(false);
    if !live {
        tx.commit()?;
        return Ok(None);
    }
    let web_token = new_token();
    tx.execute("DELETE FROM web_sessions WHERE expires_at < ?1", [now])?;
    tx.execute(
        "INSERT INTO web_sessions (digest, family_id, expires_at) VALUES (?1, ?2, ?3)",
        params![digest(&web_token), family, now + WEB_SESSION_TTL],
    )?;
    tx.commit()?;
    Ok(Some((target, web_token)))
}

/// Who a web-session cookie signs in: (display name, e-mail), if anyone.
fn signed_in(cloud: &Cloud, jar: &CookieJar) -> rusqlite::Result<Option<(String, String)>> {
    let Some(ck) = jar.get(WEB_COOKIE) else {
        return Ok(None);
    };
    cloud
        .db
        .lock()
        .query_row(
            "SELECT a.display_name, a.email FROM web_sessions w \
             JOIN session_families f ON f.id = w.family_id \
             JOIN accounts a ON a.id = f.account_id \
             WHERE w.digest = ?1 AND w.expires_at > ?2 AND f.revoked_at IS NULL",
            params![digest(ck.value()), cloud.now()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()
}

/// `GET /web/{target}`: a 教育雲服務 page of the sandbox, showing who is
/// signed in.
pub(crate) async fn web_page(
    State(cloud): AppState,
    jar: CookieJar,
    Path(target): Path<String>,
) -> Response {
    let Some((zh, en)) = target_name(&target) else {
        return page(
            StatusCode::NOT_FOUND,
            "找不到頁面 Not found",
            "<p class=\"err\">找不到這個頁面。 No such page.</p>",
        );
    };
    let who = match signed_in(&cloud, &jar) {
        Ok(Some((name, email))) => format!(
            "<p id=\"signed-in\" class=\"ok\">已登入：<b id=\"who-name\">{}</b>（<span id=\"who-email\">{}</span>）\
             <br><span class=\"meta\">Signed in as {} ({})</span></p>",
            escape_html(&name),
            escape_html(&email),
            escape_html(&name),
            escape_html(&email)
        ),
        Ok(None) => "<p id=\"signed-out\">尚未登入。<br><span class=\"meta\">Not signed in.</span></p>"
            .to_owned(),
        Err(e) => {
            tracing::warn!(error = %e, "web page: session lookup failed");
            "<p id=\"signed-out\" class=\"err\">無法確認登入狀態。 Cannot tell who is signed in.</p>"
                .to_owned()
        }
    };
    private(page(
        StatusCode::OK,
        &format!("{zh} {en}"),
        &format!(
            "<h1 id=\"service\">{zh} <span class=\"meta\">{en}</span></h1>\
             <p class=\"meta\">示範環境的教育雲服務頁面 / the sandbox's stand-in page</p>{who}"
        ),
    ))
}
