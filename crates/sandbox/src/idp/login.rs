//! The login form: the page, its POST (校務行政帳號 / 校務行政密碼, bound
//! to the browser it was served to, attempts counted), and 取消.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{CookieJar, SameSite};

use super::authorize::{form_action_for, issue_code};
use super::grants::{
    key_of, random_secret, AuthRequest, BrowserSession, MAX_LOGIN_ATTEMPTS, SESSION_TTL,
};
use super::http::*;
use super::pages::{html, Locale, LoginError, LoginPage};
use super::profile::{self, CANCEL_PATH, LOGIN_PATH, STATUS_PATH};
use super::users::DEMO_PASSWORD;
use super::CountyIdp;

pub(super) fn login_page(
    ctx: &Ctx,
    req: &AuthRequest,
    ft: &str,
    username: &str,
    error: Option<LoginError>,
) -> Response {
    let c = ctx.idp();
    let ep = profile::endpoints(c.info.profile);
    let other = match req.locale {
        Locale::Zh => Locale::En,
        Locale::En => Locale::Zh,
    };
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in req.query.iter().filter(|(k, _)| k != "ui_locales") {
        q.append_pair(k, v);
    }
    q.append_pair("ui_locales", other.tag());
    let switch_href = format!("{}{}?{}", c.path, ep.authorize, q.finish());
    let action = format!("{}{LOGIN_PATH}", c.path);
    let cancel_href = format!("{}{CANCEL_PATH}?ft={ft}", c.path);
    let status_href = format!("{}{STATUS_PATH}?ui_locales={}", c.path, req.locale.tag());
    let spec_href = format!("{}{}", c.path, ep.metadata);
    let page = LoginPage {
        county: c.info,
        locale: req.locale,
        form_token: ft,
        action: &action,
        cancel_href: &cancel_href,
        switch_href: &switch_href,
        home_href: ctx.reg.base_url().as_str(),
        status_href: &status_href,
        spec_href: &spec_href,
        username,
        error,
    }
    .render();
    html(
        StatusCode::OK,
        page,
        Some(&form_action_for(&req.redirect_uri)),
    )
}

pub(super) fn form_gone(c: &CountyIdp, locale: Locale) -> Response {
    error_page(
        c,
        locale,
        StatusCode::BAD_REQUEST,
        "login_form_expired",
        match locale {
            Locale::Zh => "這份登入表單已失效或已使用過。",
            Locale::En => "This sign-in form has expired or was already used.",
        },
    )
}

pub(super) async fn login(
    State(ctx): State<Ctx>,
    jar: CookieJar,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let c = ctx.idp();
    if cross_site(&ctx.reg, &headers) {
        return error_page(
            c,
            Locale::Zh,
            StatusCode::FORBIDDEN,
            "cross_site",
            "cross-site form submission refused",
        );
    }
    let Ok(form) = Params::parse(&body) else {
        return form_gone(c, Locale::Zh);
    };
    let Some(ft) = form.get("ft") else {
        return form_gone(c, Locale::Zh);
    };
    let now = ctx.reg.now();
    let ft_key = key_of(ft);
    let binding = jar.get(BIND_COOKIE).map(|ck| key_of(ck.value()));
    let username = form.get("username").unwrap_or("").trim().to_owned();
    let password_ok = form.get("password") == Some(DEMO_PASSWORD);

    let mut g = c.grants();
    g.purge(now);
    let Some(pending) = g.pending.get_mut(&ft_key) else {
        drop(g);
        return form_gone(c, Locale::Zh);
    };
    let locale = pending.request.locale;
    if binding.as_deref() != Some(pending.binding.as_str()) {
        drop(g);
        return error_page(
            c,
            locale,
            StatusCode::BAD_REQUEST,
            "browser_mismatch",
            match locale {
                Locale::Zh => "這份登入表單不是在這個瀏覽器開啟的（或瀏覽器封鎖了 Cookie）。",
                Locale::En => {
                    "This sign-in form was not opened in this browser (or cookies are blocked)."
                }
            },
        );
    }
    if pending.attempts >= MAX_LOGIN_ATTEMPTS {
        let req = pending.request.clone();
        drop(g);
        return login_page(&ctx, &req, ft, &username, Some(LoginError::TooManyAttempts));
    }
    if !(password_ok && c.user(&username).is_some()) {
        pending.attempts += 1;
        let too_many = pending.attempts >= MAX_LOGIN_ATTEMPTS;
        let req = pending.request.clone();
        drop(g);
        tracing::info!(county = c.info.code, "wrong county account or password");
        let error = if too_many {
            LoginError::TooManyAttempts
        } else {
            LoginError::WrongPassword
        };
        return login_page(&ctx, &req, ft, &username, Some(error));
    }
    let Some(pending) = g.pending.remove(&ft_key) else {
        drop(g);
        return form_gone(c, locale);
    };
    let to = issue_code(&mut g, c, &pending.request, &username, now, now);
    let jar = if form.get("remember").is_some() {
        let sid = random_secret();
        g.sessions.insert(
            key_of(&sid),
            BrowserSession {
                username: username.clone(),
                auth_time: now,
                expires_at: now + SESSION_TTL,
            },
        );
        jar.add(cookie(
            SESSION_COOKIE,
            sid,
            &c.path,
            SameSite::Lax,
            Some(SESSION_TTL),
        ))
    } else {
        jar
    };
    drop(g);
    tracing::info!(county = c.info.code, "county user signed in");
    (jar, found(&to)).into_response()
}

pub(super) async fn cancel(State(ctx): State<Ctx>, RawQuery(q): RawQuery) -> Response {
    let c = ctx.idp();
    let params = Params::parse(q.unwrap_or_default().as_bytes()).unwrap_or(Params(Vec::new()));
    let Some(ft) = params.get("ft") else {
        return form_gone(c, Locale::Zh);
    };
    let pending = {
        let mut g = c.grants();
        g.purge(ctx.reg.now());
        g.pending.remove(&key_of(ft))
    };
    match pending {
        Some(p) => redirect_error(
            c,
            &p.request.redirect_uri,
            p.request.state.as_deref(),
            "access_denied",
            "the user cancelled the sign-in",
        ),
        None => form_gone(c, Locale::Zh),
    }
}
