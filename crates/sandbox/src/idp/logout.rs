//! Revocation (RFC 7009) and end-session (RP-initiated logout).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar};

use super::error::OAuthError;
use super::grants::key_of;
use super::http::*;
use super::pages::{self, html, Locale};
use super::redirect;
use super::token::{authenticate_client, form_params};

// ---------------------------------------------------------------------------
// Revocation (RFC 7009) and end-session

pub(super) async fn revoke(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let c = ctx.idp();
    let result = form_params(&headers, &body).and_then(|p| {
        let client_id = authenticate_client(&headers, &p)?;
        let token = p
            .get("token")
            .ok_or_else(|| OAuthError::invalid_request("token is required"))?;
        let key = key_of(token);
        let mut g = c.grants();
        let access_family = g
            .access
            .get(&key)
            .filter(|a| a.client_id == client_id)
            .map(|a| a.family.clone());
        if access_family.is_some() {
            g.access.remove(&key);
        } else if let Some(family) = g
            .refresh
            .get(&key)
            .filter(|r| r.client_id == client_id)
            .map(|r| r.family.clone())
        {
            // Revoking a refresh token ends the whole sign-in.
            g.revoke_family(&family);
        }
        Ok(())
    });
    match result {
        // Unknown tokens are not an error (RFC 7009 §2.2).
        Ok(()) => {
            let mut res = StatusCode::OK.into_response();
            res.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            res
        }
        Err(e) => e.into_response(),
    }
}

pub(super) async fn end_session_get(
    State(ctx): State<Ctx>,
    jar: CookieJar,
    RawQuery(q): RawQuery,
) -> Response {
    end_session(&ctx, jar, q.unwrap_or_default().as_bytes())
}

pub(super) async fn end_session_post(
    State(ctx): State<Ctx>,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    end_session(&ctx, jar, &body)
}

pub(super) fn end_session(ctx: &Ctx, jar: CookieJar, raw: &[u8]) -> Response {
    let c = ctx.idp();
    let params = Params::parse(raw).unwrap_or(Params(Vec::new()));
    let locale = Locale::from_ui_locales(params.get("ui_locales"));
    if let Some(sid) = jar.get(SESSION_COOKIE).map(|ck| key_of(ck.value())) {
        c.grants().sessions.remove(&sid);
    }
    let jar = jar.remove(Cookie::build(SESSION_COOKIE).path(c.path.clone()));
    tracing::info!(county = c.info.code, "county browser session ended");
    match params.get("post_logout_redirect_uri") {
        Some(raw_uri) => match redirect::validate_post_logout_uri(raw_uri) {
            Ok(uri) => (
                jar,
                found(&redirect::with_params(
                    &uri,
                    &[("state", params.get("state"))],
                )),
            )
                .into_response(),
            Err(why) => (
                jar,
                error_page(
                    c,
                    locale,
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    &format!("post_logout_redirect_uri refused: {why}"),
                ),
            )
                .into_response(),
        },
        None => {
            let (heading, text) = match locale {
                Locale::Zh => ("已登出", "您已登出這個縣市的登入服務，可以關閉此分頁。"),
                Locale::En => (
                    "Signed out",
                    "You are signed out of this county's sign-in service. You can close this tab.",
                ),
            };
            (
                jar,
                html(
                    StatusCode::OK,
                    pages::message_page(locale, c.info, "signed-out", heading, text),
                    None,
                ),
            )
                .into_response()
        }
    }
}
