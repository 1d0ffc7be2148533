//! HTTP endpoints of the county IdPs: metadata, JWKS, authorize + the login
//! form, token (authorization_code with PKCE S256, refresh_token with
//! rotation), UserInfo / eduinfo / Taipei's `/api/user` + `/api/profile`,
//! revocation (RFC 7009), end-session, and the test-only admin switches.
//!
//! Each county gets its own router nested at `/idp/{code}` with its
//! profile's paths ([`super::profile::endpoints`]).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use educloud_contract::county::IdpProfile;
use jsonwebtoken::{Algorithm, Header};
use serde_json::{json, Map, Value};
use url::{Host, Url};

use super::error::{IdpError, OAuthError};
use super::grants::{
    key_of, random_secret, AccessGrant, AuthRequest, BrowserSession, CodeGrant, Grants,
    PendingLogin, RefreshGrant, ACCESS_TTL, CODE_TTL, LOGIN_FORM_TTL, MAX_LOGIN_ATTEMPTS,
    REFRESH_TTL, SESSION_TTL,
};
use super::pages::{self, html, Locale, LoginError, LoginPage};
use super::profile::{self, CANCEL_PATH, LOGIN_PATH, ROTATE_KEYS_PATH, STATUS_PATH};
use super::redirect;
use super::users::{DemoUser, DEMO_PASSWORD};
use super::{CountyIdp, IdpRegistry, CLIENT_ID, SANDBOX_CLIENT_SECRET};

/// Cookie binding a login form to the browser it was served to (CSRF).
const BIND_COOKIE: &str = "educloud_idp_form";
/// Cookie of a "保持登入狀態" (stay signed in) session.
const SESSION_COOKIE: &str = "educloud_idp_session";
/// Longest `state` / `nonce` accepted.
const MAX_PARAM_LEN: usize = 1024;

#[derive(Clone)]
struct Ctx {
    reg: Arc<IdpRegistry>,
    idx: usize,
}

impl Ctx {
    fn idp(&self) -> &CountyIdp {
        &self.reg.county_idps()[self.idx]
    }
}

/// Every county IdP, nested at `/idp/{code}`, plus
/// `POST /idp/_admin/advance-clock?seconds=N`. Merge it into the sandbox's
/// root router.
pub fn router(registry: Arc<IdpRegistry>) -> Router {
    let mut root = Router::new();
    for (idx, c) in registry.county_idps().iter().enumerate() {
        let ep = profile::endpoints(c.info.profile);
        let mut r = Router::new()
            .route("/", get(status))
            .route(STATUS_PATH, get(status))
            .route(ep.metadata, get(metadata))
            .route(ep.authorize, get(authorize_get).post(authorize_post))
            .route(LOGIN_PATH, post(login))
            .route(CANCEL_PATH, get(cancel))
            .route(ep.token, post(token))
            .route(ep.revocation, post(revoke))
            .route(ep.end_session, get(end_session_get).post(end_session_post));
        if let Some(p) = ep.jwks {
            r = r
                .route(p, get(jwks))
                .route(ROTATE_KEYS_PATH, post(rotate_keys));
        }
        if let Some(p) = ep.userinfo {
            r = r.route(p, get(userinfo).post(userinfo));
        }
        if let Some(p) = ep.eduinfo {
            r = r.route(p, get(eduinfo));
        }
        if let Some(p) = ep.api_user {
            r = r.route(p, get(api_user));
        }
        if let Some(p) = ep.api_profile {
            r = r.route(p, get(api_profile));
        }
        let ctx = Ctx {
            reg: Arc::clone(&registry),
            idx,
        };
        root = root.nest(&c.path, r.with_state(ctx));
    }
    root.merge(
        Router::new()
            .route("/idp/_admin/advance-clock", post(advance_clock))
            .with_state(registry),
    )
}

// ---------------------------------------------------------------------------
// Parameters

/// Form or query parameters. Values may be secrets (passwords, codes,
/// verifiers, tokens): `Debug` shows the names only.
struct Params(Vec<(String, String)>);

impl std::fmt::Debug for Params {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.iter().map(|(k, _)| k))
            .finish()
    }
}

impl Params {
    /// Parses `application/x-www-form-urlencoded`; a repeated parameter is
    /// an error (RFC 6749 §3.1), returned as its name.
    fn parse(raw: &[u8]) -> Result<Self, String> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (k, v) in url::form_urlencoded::parse(raw) {
            if out.iter().any(|(x, _)| *x == k) {
                return Err(k.into_owned());
            }
            out.push((k.into_owned(), v.into_owned()));
        }
        Ok(Self(out))
    }

    /// A parameter's value; empty values count as absent (RFC 6749 §3.1).
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

// ---------------------------------------------------------------------------
// Small response helpers

fn found(location: &Url) -> Response {
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location.as_str()) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

fn json_no_store(status: StatusCode, v: Value) -> Response {
    let mut res = (status, Json(v)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

fn error_page(
    c: &CountyIdp,
    locale: Locale,
    status: StatusCode,
    reason: &str,
    detail: &str,
) -> Response {
    tracing::info!(
        county = c.info.code,
        reason,
        "authorization request refused"
    );
    html(
        status,
        pages::error_page(locale, c.info, reason, detail),
        None,
    )
}

/// 302 back to the client with an RFC 6749 §4.1.2.1 error (+ RFC 9207 iss).
fn redirect_error(
    c: &CountyIdp,
    uri: &Url,
    state: Option<&str>,
    error: &str,
    description: &str,
) -> Response {
    tracing::info!(
        county = c.info.code,
        error,
        "authorization error sent to the client"
    );
    found(&redirect::with_params(
        uri,
        &[
            ("error", Some(error)),
            ("error_description", Some(description)),
            ("state", state),
            ("iss", Some(&c.issuer)),
        ],
    ))
}

/// Whether a state-changing request comes from another site (a browser
/// always sends `Origin` on cross-origin POSTs). `null` is accepted: it is
/// what same-origin POSTs carry under `Referrer-Policy: no-referrer`.
fn cross_site(reg: &IdpRegistry, headers: &HeaderMap) -> bool {
    if headers
        .get("sec-fetch-site")
        .is_some_and(|v| v.as_bytes() == b"cross-site")
    {
        return true;
    }
    match headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) {
        None | Some("null") => false,
        Some(origin) => origin != reg.base_url().origin().ascii_serialization(),
    }
}

fn cookie(
    name: &'static str,
    value: String,
    path: &str,
    same_site: SameSite,
    max_age: Option<i64>,
) -> Cookie<'static> {
    let mut b = Cookie::build((name, value))
        .path(path.to_owned())
        .http_only(true)
        .same_site(same_site);
    if let Some(secs) = max_age {
        b = b.max_age(time::Duration::seconds(secs));
    }
    b.build()
}

// ---------------------------------------------------------------------------
// Metadata, JWKS, status

async fn metadata(State(ctx): State<Ctx>) -> Response {
    let c = ctx.idp();
    Json(profile::metadata(c.info.profile, &c.issuer)).into_response()
}

async fn jwks(State(ctx): State<Ctx>) -> Response {
    Json(ctx.idp().key_ring().jwks()).into_response()
}

async fn status(State(ctx): State<Ctx>, RawQuery(q): RawQuery) -> Response {
    let c = ctx.idp();
    let locale = ui_locale_of(q.as_deref());
    let (heading, text) = match locale {
        Locale::Zh => ("服務正常", "這個示範縣市登入服務運作正常。"),
        Locale::En => (
            "Service is up",
            "This demo county sign-in service is working.",
        ),
    };
    html(
        StatusCode::OK,
        pages::message_page(locale, c.info, "status", heading, text),
        None,
    )
}

fn ui_locale_of(query: Option<&str>) -> Locale {
    let p = Params::parse(query.unwrap_or("").as_bytes()).unwrap_or(Params(Vec::new()));
    Locale::from_ui_locales(p.get("ui_locales"))
}

// ---------------------------------------------------------------------------
// Authorization endpoint + login form

async fn authorize_get(State(ctx): State<Ctx>, jar: CookieJar, RawQuery(q): RawQuery) -> Response {
    authorize(&ctx, jar, q.unwrap_or_default().as_bytes())
}

async fn authorize_post(State(ctx): State<Ctx>, jar: CookieJar, body: Bytes) -> Response {
    authorize(&ctx, jar, &body)
}

fn authorize(ctx: &Ctx, jar: CookieJar, raw: &[u8]) -> Response {
    let c = ctx.idp();
    let params = match Params::parse(raw) {
        Ok(p) => p,
        Err(name) => {
            return error_page(
                c,
                Locale::Zh,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                &format!("parameter `{name}` is repeated"),
            )
        }
    };
    let locale = Locale::from_ui_locales(params.get("ui_locales"));
    // Client and redirect URI first: if either is wrong, never redirect.
    match params.get("client_id") {
        Some(CLIENT_ID) => {}
        Some(_) => {
            return error_page(
                c,
                locale,
                StatusCode::BAD_REQUEST,
                "unauthorized_client",
                "unknown client_id",
            )
        }
        None => {
            return error_page(
                c,
                locale,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client_id is required",
            )
        }
    }
    let redirect_uri = match params.get("redirect_uri") {
        None => {
            return error_page(
                c,
                locale,
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "redirect_uri is required",
            )
        }
        Some(raw) => match redirect::validate_redirect_uri(raw, c.info.code) {
            Ok(u) => u,
            Err(why) => {
                return error_page(
                    c,
                    locale,
                    StatusCode::BAD_REQUEST,
                    "invalid_redirect_uri",
                    &format!("redirect_uri refused: {why}"),
                )
            }
        },
    };
    let state = params.get("state");
    if state.is_some_and(|s| s.len() > MAX_PARAM_LEN) {
        return error_page(
            c,
            locale,
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "state is too long",
        );
    }
    let fail = |error: &str, description: &str| {
        redirect_error(c, &redirect_uri, state, error, description)
    };

    if params.get("request").is_some() {
        return fail("request_not_supported", "request objects are not supported");
    }
    if params.get("request_uri").is_some() {
        return fail("request_uri_not_supported", "request_uri is not supported");
    }
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "only response_type=code is supported",
            )
        }
        None => return fail("invalid_request", "response_type is required"),
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return fail("invalid_request", "only response_mode=query is supported");
    }
    // PKCE S256 is required; `plain` (or no method, which means plain) is refused.
    let Some(challenge) = params.get("code_challenge") else {
        return fail("invalid_request", "code_challenge is required (PKCE S256)");
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        Some("plain") | None => {
            return fail(
                "invalid_request",
                "code_challenge_method must be S256; plain is not allowed",
            )
        }
        Some(_) => return fail("invalid_request", "unsupported code_challenge_method"),
    }
    if !redirect::is_valid_s256_challenge(challenge) {
        return fail(
            "invalid_request",
            "code_challenge is not a base64url SHA-256 value",
        );
    }
    let nonce = params.get("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_PARAM_LEN) {
        return fail("invalid_request", "nonce is too long");
    }
    // Scopes: grant the supported ones the client asked for.
    let requested: Vec<&str> = params
        .get("scope")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let profile = c.info.profile;
    if profile.has_id_token() && !requested.contains(&"openid") {
        return fail("invalid_scope", "scope must include openid");
    }
    let supported = profile::supported_scopes(profile);
    let mut scopes: Vec<String> = Vec::new();
    for s in requested {
        if supported.contains(&s) && !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    if scopes.is_empty() {
        return fail("invalid_scope", "no supported scope requested");
    }
    let prompts: Vec<&str> = params
        .get("prompt")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return fail("invalid_request", "prompt=none cannot be combined");
    }

    let request = AuthRequest {
        client_id: CLIENT_ID.to_owned(),
        redirect_uri: redirect_uri.clone(),
        scopes,
        state: state.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        code_challenge: challenge.to_owned(),
        locale,
        query: params.0.clone(),
    };
    let now = ctx.reg.now();

    // A "stay signed in" session skips the form unless prompt=login.
    if !prompts.contains(&"login") {
        if let Some(sid) = jar.get(SESSION_COOKIE).map(|ck| key_of(ck.value())) {
            let mut g = c.grants();
            g.purge(now);
            let session = g.sessions.get(&sid).cloned();
            if let Some(s) = session.filter(|s| c.user(&s.username).is_some()) {
                let to = issue_code(&mut g, c, &request, &s.username, s.auth_time, now);
                tracing::info!(county = c.info.code, "signed in from a remembered session");
                return found(&to);
            }
        }
    }
    if prompts.contains(&"none") {
        return fail("login_required", "the user is not signed in");
    }

    // Show the login form, bound to this browser.
    let (jar, binding) = match jar.get(BIND_COOKIE).map(|ck| ck.value().to_owned()) {
        Some(v) if v.len() == 43 => (jar, v),
        _ => {
            let v = random_secret();
            let ck = cookie(BIND_COOKIE, v.clone(), &c.path, SameSite::Strict, None);
            (jar.add(ck), v)
        }
    };
    let ft = random_secret();
    {
        let mut g = c.grants();
        g.purge(now);
        g.pending.insert(
            key_of(&ft),
            PendingLogin {
                request: request.clone(),
                binding: key_of(&binding),
                expires_at: now + LOGIN_FORM_TTL,
                attempts: 0,
            },
        );
    }
    (jar, login_page(ctx, &request, &ft, "", None)).into_response()
}

/// `form-action` sources for the login page: its own origin plus the
/// client's loopback origin (browsers apply it to the POST's redirect).
fn form_action_for(uri: &Url) -> String {
    match (uri.host(), uri.port_or_known_default()) {
        (Some(Host::Ipv4(_)), Some(port)) => format!("http://127.0.0.1:{port}"),
        // CSP host sources cannot express an IPv6 literal: no restriction.
        _ => "*".to_owned(),
    }
}

fn login_page(
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

fn issue_code(
    g: &mut Grants,
    c: &CountyIdp,
    req: &AuthRequest,
    username: &str,
    auth_time: i64,
    now: i64,
) -> Url {
    let code = random_secret();
    g.codes.insert(
        key_of(&code),
        CodeGrant {
            request: req.clone(),
            username: username.to_owned(),
            auth_time,
            expires_at: now + CODE_TTL,
            used: false,
            family: random_secret(),
        },
    );
    redirect::with_params(
        &req.redirect_uri,
        &[
            ("code", Some(&code)),
            ("state", req.state.as_deref()),
            ("iss", Some(&c.issuer)),
        ],
    )
}

fn form_gone(c: &CountyIdp, locale: Locale) -> Response {
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

async fn login(
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

async fn cancel(State(ctx): State<Ctx>, RawQuery(q): RawQuery) -> Response {
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

// ---------------------------------------------------------------------------
// Token endpoint

fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|m| {
                m.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        })
}

fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Params::parse(body)
        .map_err(|name| OAuthError::invalid_request(format!("parameter `{name}` is repeated")))
}

fn form_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Client authentication: none (public client with PKCE),
/// `client_secret_basic` or `client_secret_post` — never two at once.
fn authenticate_client(headers: &HeaderMap, p: &Params) -> Result<String, OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| OAuthError::invalid_client("malformed Authorization header", true))?;
            let Some((scheme, rest)) = v.split_once(' ') else {
                return Err(OAuthError::invalid_client(
                    "malformed Authorization header",
                    true,
                ));
            };
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(OAuthError::invalid_client(
                    "unsupported client authentication",
                    true,
                ));
            }
            let decoded = STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials", true))?;
            let (id, secret) = decoded
                .split_once(':')
                .and_then(|(i, s)| Some((form_decode(i)?, form_decode(s)?)))
                .ok_or_else(|| OAuthError::invalid_client("malformed Basic credentials", true))?;
            Some((id, secret))
        }
    };
    let (id, secret, via_basic) = match basic {
        Some((id, secret)) => {
            if p.get("client_secret").is_some() {
                return Err(OAuthError::invalid_request(
                    "use one client authentication method, not two",
                ));
            }
            if p.get("client_id").is_some_and(|b| b != id) {
                return Err(OAuthError::invalid_request(
                    "client_id differs from the Basic credentials",
                ));
            }
            (id, Some(secret), true)
        }
        None => {
            let id = p
                .get("client_id")
                .ok_or_else(|| OAuthError::invalid_client("client_id is required", false))?;
            (
                id.to_owned(),
                p.get("client_secret").map(str::to_owned),
                false,
            )
        }
    };
    if id != CLIENT_ID {
        return Err(OAuthError::invalid_client("unknown client", via_basic));
    }
    if secret.is_some_and(|s| s != SANDBOX_CLIENT_SECRET) {
        return Err(OAuthError::invalid_client("wrong client secret", via_basic));
    }
    Ok(id)
}

async fn token(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
    let result = form_params(&headers, &body).and_then(|p| {
        let client_id = authenticate_client(&headers, &p)?;
        match p.get("grant_type") {
            Some("authorization_code") => code_grant(&ctx, &client_id, &p),
            Some("refresh_token") => refresh_grant(&ctx, &client_id, &p),
            Some(_) => Err(OAuthError::new(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be authorization_code or refresh_token",
            )),
            None => Err(OAuthError::invalid_request("grant_type is required")),
        }
    });
    match result {
        Ok(v) => json_no_store(StatusCode::OK, v),
        Err(e) => {
            tracing::info!(
                county = ctx.idp().info.code,
                error = e.error,
                "token request refused"
            );
            e.into_response()
        }
    }
}

struct Issue<'a> {
    username: &'a str,
    client_id: &'a str,
    scopes: &'a [String],
    family: &'a str,
    auth_time: i64,
    nonce: Option<&'a str>,
}

fn issue_tokens(g: &mut Grants, now: i64, it: &Issue<'_>) -> (String, Option<String>) {
    let access = random_secret();
    g.access.insert(
        key_of(&access),
        AccessGrant {
            username: it.username.to_owned(),
            client_id: it.client_id.to_owned(),
            scopes: it.scopes.to_vec(),
            expires_at: now + ACCESS_TTL,
            family: it.family.to_owned(),
        },
    );
    let refresh = it.scopes.iter().any(|s| s == "offline_access").then(|| {
        let r = random_secret();
        g.refresh.insert(
            key_of(&r),
            RefreshGrant {
                username: it.username.to_owned(),
                client_id: it.client_id.to_owned(),
                scopes: it.scopes.to_vec(),
                auth_time: it.auth_time,
                expires_at: now + REFRESH_TTL,
                family: it.family.to_owned(),
                rotated: false,
            },
        );
        r
    });
    (access, refresh)
}

fn token_response(
    c: &CountyIdp,
    now: i64,
    it: &Issue<'_>,
    access: String,
    refresh: Option<String>,
) -> Result<Value, OAuthError> {
    let mut out = Map::new();
    out.insert("access_token".into(), json!(access));
    out.insert("token_type".into(), json!("Bearer"));
    out.insert("expires_in".into(), json!(ACCESS_TTL));
    out.insert("scope".into(), json!(it.scopes.join(" ")));
    if c.info.profile.has_id_token() && it.scopes.iter().any(|s| s == "openid") {
        let user = c
            .user(it.username)
            .ok_or_else(|| OAuthError::invalid_grant("the user no longer exists"))?;
        let id_token = sign_id_token(
            c,
            user,
            it.client_id,
            it.scopes,
            it.nonce,
            it.auth_time,
            now,
        )
        .map_err(|e| {
            OAuthError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                e.to_string(),
            )
        })?;
        out.insert("id_token".into(), json!(id_token));
    }
    if let Some(r) = refresh {
        out.insert("refresh_token".into(), json!(r));
    }
    Ok(Value::Object(out))
}

fn code_grant(ctx: &Ctx, client_id: &str, p: &Params) -> Result<Value, OAuthError> {
    let c = ctx.idp();
    let code = p
        .get("code")
        .ok_or_else(|| OAuthError::invalid_request("code is required"))?;
    let now = ctx.reg.now();
    let mut g = c.grants();
    g.purge(now);
    let key = key_of(code);
    let Some(grant) = g.codes.get_mut(&key) else {
        return Err(OAuthError::invalid_grant("unknown authorization code"));
    };
    if grant.used {
        let family = grant.family.clone();
        g.revoke_family(&family);
        tracing::warn!(
            county = c.info.code,
            "authorization code replayed; its tokens are revoked"
        );
        return Err(OAuthError::invalid_grant(
            "authorization code already used; the tokens issued for it are revoked",
        ));
    }
    // One attempt per code, whatever its outcome.
    grant.used = true;
    if grant.expires_at <= now {
        return Err(OAuthError::invalid_grant("authorization code expired"));
    }
    if grant.request.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "authorization code was issued to another client",
        ));
    }
    if p.get("redirect_uri") != Some(grant.request.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request",
        ));
    }
    let verifier = p
        .get("code_verifier")
        .ok_or_else(|| OAuthError::invalid_grant("code_verifier is required (PKCE)"))?;
    if !redirect::is_valid_verifier(verifier)
        || redirect::s256(verifier) != grant.request.code_challenge
    {
        return Err(OAuthError::invalid_grant("PKCE verification failed"));
    }
    let request = grant.request.clone();
    let username = grant.username.clone();
    let family = grant.family.clone();
    let auth_time = grant.auth_time;
    let it = Issue {
        username: &username,
        client_id,
        scopes: &request.scopes,
        family: &family,
        auth_time,
        nonce: request.nonce.as_deref(),
    };
    let (access, refresh) = issue_tokens(&mut g, now, &it);
    drop(g);
    token_response(c, now, &it, access, refresh)
}

fn refresh_grant(ctx: &Ctx, client_id: &str, p: &Params) -> Result<Value, OAuthError> {
    let c = ctx.idp();
    let token = p
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is required"))?;
    let now = ctx.reg.now();
    let mut g = c.grants();
    g.purge(now);
    let Some(r) = g.refresh.get_mut(&key_of(token)) else {
        return Err(OAuthError::invalid_grant(
            "unknown, expired or revoked refresh token",
        ));
    };
    if r.client_id != client_id {
        return Err(OAuthError::invalid_grant(
            "refresh token was issued to another client",
        ));
    }
    if r.rotated {
        let family = r.family.clone();
        g.revoke_family(&family);
        tracing::warn!(
            county = c.info.code,
            "rotated refresh token reused; family revoked"
        );
        return Err(OAuthError::invalid_grant(
            "refresh token already used; every token of this sign-in is revoked",
        ));
    }
    let scopes: Vec<String> = match p.get("scope") {
        None => r.scopes.clone(),
        Some(s) => {
            let asked: Vec<String> = s.split_whitespace().map(str::to_owned).collect();
            if asked.iter().any(|a| !r.scopes.contains(a)) {
                return Err(OAuthError::new(
                    StatusCode::BAD_REQUEST,
                    "invalid_scope",
                    "a refresh cannot widen the scope",
                ));
            }
            asked
        }
    };
    r.rotated = true;
    let username = r.username.clone();
    let family = r.family.clone();
    let auth_time = r.auth_time;
    let it = Issue {
        username: &username,
        client_id,
        scopes: &scopes,
        family: &family,
        auth_time,
        nonce: None,
    };
    let (access, refresh) = issue_tokens(&mut g, now, &it);
    drop(g);
    token_response(c, now, &it, access, refresh)
}

fn titles_claim(user: &DemoUser) -> Value {
    json!([{ "schoolid": user.school_id, "titles": [user.role, user.title] }])
}

fn kh_profile_claim(user: &DemoUser) -> Value {
    json!({
        "fullname": user.name,
        "email": user.email.clone().unwrap_or_default(),
        "schoolid": user.school_id,
    })
}

/// Identity claims by scope (shared by the ID token and UserInfo).
fn identity_claims(
    c: &CountyIdp,
    user: &DemoUser,
    scopes: &[String],
    out: &mut Map<String, Value>,
) {
    let has = |s: &str| scopes.iter().any(|x| x == s);
    if has("profile") {
        out.insert("name".into(), json!(user.name));
        out.insert("given_name".into(), json!(user.given_name));
        out.insert("family_name".into(), json!(user.family_name));
        out.insert("preferred_username".into(), json!(user.username));
    }
    if has("email") {
        if let Some(e) = &user.email {
            out.insert("email".into(), json!(e));
            out.insert("email_verified".into(), json!(true));
        }
    }
    if c.info.profile == IdpProfile::Kaohsiung {
        if has("kh_profile") {
            out.insert("kh_profile".into(), kh_profile_claim(user));
        }
        if has("kh_titles") {
            out.insert("kh_titles".into(), titles_claim(user));
        }
    }
}

/// Signs an ID token (RS256, `kid`) with the county's current key.
pub(super) fn sign_id_token(
    c: &CountyIdp,
    user: &DemoUser,
    client_id: &str,
    scopes: &[String],
    nonce: Option<&str>,
    auth_time: i64,
    now: i64,
) -> Result<String, IdpError> {
    let mut claims = Map::new();
    claims.insert("iss".into(), json!(c.issuer));
    claims.insert("sub".into(), json!(user.subject_for(client_id)));
    claims.insert("aud".into(), json!(client_id));
    claims.insert("azp".into(), json!(client_id));
    claims.insert("exp".into(), json!(now + ACCESS_TTL));
    claims.insert("iat".into(), json!(now));
    claims.insert("auth_time".into(), json!(auth_time));
    claims.insert("jti".into(), json!(random_secret()));
    if let Some(n) = nonce {
        claims.insert("nonce".into(), json!(n));
    }
    identity_claims(c, user, scopes, &mut claims);
    let key = c.key_ring().signing();
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(key.kid().to_owned());
    jsonwebtoken::encode(&header, &Value::Object(claims), key.encoding())
        .map_err(|e| IdpError::Keys(e.to_string()))
}

// ---------------------------------------------------------------------------
// Protected resources (Bearer in the Authorization header only)

fn bearer_grant(
    ctx: &Ctx,
    headers: &HeaderMap,
    query: Option<&str>,
) -> Result<(AccessGrant, DemoUser), OAuthError> {
    let c = ctx.idp();
    let q = Params::parse(query.unwrap_or("").as_bytes()).unwrap_or(Params(Vec::new()));
    if q.get("access_token").is_some() {
        return Err(OAuthError::invalid_request(
            "access tokens in the URL query are refused; send Authorization: Bearer",
        ));
    }
    let Some(h) = headers.get(header::AUTHORIZATION) else {
        return Err(OAuthError::missing_token());
    };
    let h = h
        .to_str()
        .map_err(|_| OAuthError::invalid_token("malformed Authorization header"))?;
    let token = match h.split_once(' ') {
        Some((scheme, t)) if scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty() => {
            t.trim()
        }
        _ => return Err(OAuthError::missing_token()),
    };
    let now = ctx.reg.now();
    let grant = c
        .grants()
        .access
        .get(&key_of(token))
        .cloned()
        .filter(|g| g.expires_at > now)
        .ok_or_else(|| OAuthError::invalid_token("unknown, expired or revoked access token"))?;
    let user = c
        .user(&grant.username)
        .cloned()
        .ok_or_else(|| OAuthError::invalid_token("the user no longer exists"))?;
    Ok((grant, user))
}

fn resource(
    ctx: &Ctx,
    headers: &HeaderMap,
    query: Option<&str>,
    scope: &str,
    build: impl FnOnce(&CountyIdp, &AccessGrant, &DemoUser) -> Value,
) -> Response {
    match bearer_grant(ctx, headers, query) {
        Err(e) => e.into_response(),
        Ok((grant, _)) if !grant.has_scope(scope) => {
            OAuthError::insufficient_scope(scope).into_response()
        }
        Ok((grant, user)) => json_no_store(StatusCode::OK, build(ctx.idp(), &grant, &user)),
    }
}

async fn userinfo(State(ctx): State<Ctx>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    resource(&ctx, &headers, q.as_deref(), "openid", |c, grant, user| {
        let mut out = Map::new();
        out.insert("sub".into(), json!(user.subject_for(&grant.client_id)));
        identity_claims(c, user, &grant.scopes, &mut out);
        Value::Object(out)
    })
}

async fn eduinfo(State(ctx): State<Ctx>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    resource(&ctx, &headers, q.as_deref(), "eduinfo", |_, grant, user| {
        let mut v = json!({
            "schoolid": user.school_id,
            "sub": user.subject_for(&grant.client_id),
            "titles": titles_claim(user),
        });
        if let (Some(ci), Some(obj)) = (&user.class_info, v.as_object_mut()) {
            obj.insert(
                "classinfo".into(),
                json!([{ "classtitle": ci.class_title, "grade": ci.grade, "classno": ci.class_no }]),
            );
        }
        v
    })
}

async fn api_user(State(ctx): State<Ctx>, headers: HeaderMap, RawQuery(q): RawQuery) -> Response {
    resource(&ctx, &headers, q.as_deref(), "user", |_, grant, user| {
        json!({
            "role": user.role,
            "uuid": user.subject_for(&grant.client_id),
            "name": user.name,
            "email": user.email.clone().unwrap_or_default(),
        })
    })
}

async fn api_profile(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    resource(&ctx, &headers, q.as_deref(), "profile", |_, _, user| {
        json!({
            "role": user.role,
            "o": user.school_id,
            "gender": user.gender,
            "organization": user.school_name,
        })
    })
}

// ---------------------------------------------------------------------------
// Revocation (RFC 7009) and end-session

async fn revoke(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
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

async fn end_session_get(
    State(ctx): State<Ctx>,
    jar: CookieJar,
    RawQuery(q): RawQuery,
) -> Response {
    end_session(&ctx, jar, q.unwrap_or_default().as_bytes())
}

async fn end_session_post(State(ctx): State<Ctx>, jar: CookieJar, body: Bytes) -> Response {
    end_session(&ctx, jar, &body)
}

fn end_session(ctx: &Ctx, jar: CookieJar, raw: &[u8]) -> Response {
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

// ---------------------------------------------------------------------------
// Admin switches for tests (refused from other sites)

async fn rotate_keys(State(ctx): State<Ctx>, headers: HeaderMap) -> Response {
    if cross_site(&ctx.reg, &headers) {
        return OAuthError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            "cross-site admin request",
        )
        .into_response();
    }
    let code = ctx.idp().info.code;
    match ctx.reg.rotate_keys(code).await {
        Ok(kid) => {
            let kids: Vec<Value> = ctx
                .idp()
                .key_ring()
                .jwks()
                .get("keys")
                .and_then(Value::as_array)
                .map(|keys| keys.iter().filter_map(|k| k.get("kid").cloned()).collect())
                .unwrap_or_default();
            json_no_store(StatusCode::OK, json!({ "kid": kid, "kids": kids }))
        }
        Err(e) => json_no_store(
            StatusCode::INTERNAL_SERVER_ERROR,
            json!({ "error": "server_error", "error_description": e.to_string() }),
        ),
    }
}

async fn advance_clock(
    State(reg): State<Arc<IdpRegistry>>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    if cross_site(&reg, &headers) {
        return OAuthError::new(
            StatusCode::FORBIDDEN,
            "access_denied",
            "cross-site admin request",
        )
        .into_response();
    }
    let p = Params::parse(q.unwrap_or_default().as_bytes()).unwrap_or(Params(Vec::new()));
    match p.get("seconds").and_then(|s| s.parse::<i64>().ok()) {
        Some(s) if s > 0 => {
            reg.advance_clock(s);
            json_no_store(StatusCode::OK, json!({ "now": reg.now() }))
        }
        _ => OAuthError::invalid_request("seconds must be a positive integer").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_reject_repeats_and_redact_values() {
        assert_eq!(Params::parse(b"a=1&a=2").unwrap_err(), "a");
        let p = Params::parse(b"password=hunter2&x=").unwrap();
        assert_eq!(p.get("password"), Some("hunter2"));
        assert_eq!(p.get("x"), None);
        assert!(!format!("{p:?}").contains("hunter2"));
    }

    #[test]
    fn basic_credentials_are_form_decoded() {
        let mut h = HeaderMap::new();
        let creds = STANDARD.encode(format!("{CLIENT_ID}:{SANDBOX_CLIENT_SECRET}"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {creds}")).unwrap(),
        );
        let p = Params::parse(b"").unwrap();
        assert_eq!(authenticate_client(&h, &p).unwrap(), CLIENT_ID);
        let wrong = STANDARD.encode(format!("{CLIENT_ID}:nope"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Basic {wrong}")).unwrap(),
        );
        let e = authenticate_client(&h, &p).unwrap_err();
        assert_eq!(
            (e.status, e.error),
            (StatusCode::UNAUTHORIZED, "invalid_client")
        );
        // Public client: client_id in the body, no secret.
        let p = Params::parse(format!("client_id={CLIENT_ID}").as_bytes()).unwrap();
        assert_eq!(
            authenticate_client(&HeaderMap::new(), &p).unwrap(),
            CLIENT_ID
        );
        let p = Params::parse(b"client_id=someone").unwrap();
        assert!(authenticate_client(&HeaderMap::new(), &p).is_err());
    }

    #[test]
    fn form_action_allows_the_client_port_only() {
        let u = Url::parse("http://127.0.0.1:4321/callback/ntpc").unwrap();
        assert_eq!(form_action_for(&u), "http://127.0.0.1:4321");
    }
}
