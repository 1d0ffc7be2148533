//! The authorization endpoint: the request checked step by step (client
//! and redirect URI, request shape, PKCE, scopes, prompt), then either a
//! remembered session's code or the login form ([`super::login`]).

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::cookie::{CookieJar, SameSite};
use url::{Host, Url};

use super::grants::{
    key_of, random_secret, AuthRequest, CodeGrant, Grants, PendingLogin, CODE_TTL, LOGIN_FORM_TTL,
};
use super::http::*;
use super::login::login_page;
use super::pages::Locale;
use super::profile::{self};
use super::redirect;
use super::{CountyIdp, CLIENT_ID};

// ---------------------------------------------------------------------------
// Authorization endpoint + login form

pub(super) async fn authorize_get(
    State(ctx): State<Ctx>,
    jar: CookieJar,
    RawQuery(q): RawQuery,
) -> Response {
    authorize(&ctx, jar, q.unwrap_or_default().as_bytes())
}

pub(super) async fn authorize_post(
    State(ctx): State<Ctx>,
    jar: CookieJar,
    body: Bytes,
) -> Response {
    authorize(&ctx, jar, &body)
}

/// The authorization request, step by step. Each step either passes what
/// the next needs or answers: an error page while the client or its
/// redirect URI is in doubt, an error redirect to the client after that.
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
    let target = match client_and_redirect(c, &params) {
        Ok(t) => t,
        Err((reason, detail)) => {
            return error_page(c, locale, StatusCode::BAD_REQUEST, reason, &detail)
        }
    };
    let fail = |(error, description): Refusal| {
        redirect_error(c, &target.redirect_uri, target.state, error, description)
    };
    let checked = check_request_shape(&params)
        .and_then(|()| check_pkce(&params))
        .and_then(|challenge| {
            let nonce = check_nonce(&params)?;
            let scopes = granted_scopes(c, &params)?;
            let prompts = prompts(&params)?;
            Ok((challenge, nonce, scopes, prompts))
        });
    let (challenge, nonce, scopes, prompts) = match checked {
        Ok(v) => v,
        Err(refusal) => return fail(refusal),
    };
    let request = AuthRequest {
        client_id: CLIENT_ID.to_owned(),
        redirect_uri: target.redirect_uri.clone(),
        scopes,
        state: target.state.map(str::to_owned),
        nonce: nonce.map(str::to_owned),
        code_challenge: challenge.to_owned(),
        locale,
        query: params.0.clone(),
    };
    let now = ctx.reg.now();
    // A "stay signed in" session skips the form unless prompt=login.
    if !prompts.contains(&"login") {
        if let Some(to) = remembered_session(c, &jar, &request, now) {
            return found(&to);
        }
    }
    if prompts.contains(&"none") {
        return fail(("login_required", "the user is not signed in"));
    }
    show_login_form(ctx, jar, &request, now)
}

/// An error sent back to the client: (`error`, `error_description`).
type Refusal = (&'static str, &'static str);

/// Where errors may be sent once the client and its redirect URI are known.
struct Target<'a> {
    redirect_uri: Url,
    state: Option<&'a str>,
}

/// Step 1: the client, its redirect URI and `state` — if any is wrong the
/// user sees an error page (reason, detail) and nothing is redirected.
fn client_and_redirect<'a>(
    c: &CountyIdp,
    params: &'a Params,
) -> Result<Target<'a>, (&'static str, String)> {
    let refuse = |reason: &'static str, detail: &str| Err((reason, detail.to_owned()));
    match params.get("client_id") {
        Some(CLIENT_ID) => {}
        Some(_) => return refuse("unauthorized_client", "unknown client_id"),
        None => return refuse("invalid_request", "client_id is required"),
    }
    let redirect_uri = match params.get("redirect_uri") {
        None => return refuse("invalid_request", "redirect_uri is required"),
        Some(raw) => match redirect::validate_redirect_uri(raw, c.info.code) {
            Ok(u) => u,
            Err(why) => {
                return refuse(
                    "invalid_redirect_uri",
                    &format!("redirect_uri refused: {why}"),
                )
            }
        },
    };
    let state = params.get("state");
    if state.is_some_and(|s| s.len() > MAX_PARAM_LEN) {
        return refuse("invalid_request", "state is too long");
    }
    Ok(Target {
        redirect_uri,
        state,
    })
}

/// Step 2: no request objects; `response_type=code`, `response_mode=query`.
fn check_request_shape(params: &Params) -> Result<(), Refusal> {
    if params.get("request").is_some() {
        return Err(("request_not_supported", "request objects are not supported"));
    }
    if params.get("request_uri").is_some() {
        return Err(("request_uri_not_supported", "request_uri is not supported"));
    }
    match params.get("response_type") {
        Some("code") => {}
        Some(_) => {
            return Err((
                "unsupported_response_type",
                "only response_type=code is supported",
            ))
        }
        None => return Err(("invalid_request", "response_type is required")),
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return Err(("invalid_request", "only response_mode=query is supported"));
    }
    Ok(())
}

/// Step 3: PKCE S256 is required; `plain` (or no method, which means
/// plain) is refused. Returns the challenge.
fn check_pkce(params: &Params) -> Result<&str, Refusal> {
    let Some(challenge) = params.get("code_challenge") else {
        return Err(("invalid_request", "code_challenge is required (PKCE S256)"));
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        Some("plain") | None => {
            return Err((
                "invalid_request",
                "code_challenge_method must be S256; plain is not allowed",
            ))
        }
        Some(_) => return Err(("invalid_request", "unsupported code_challenge_method")),
    }
    if !redirect::is_valid_s256_challenge(challenge) {
        return Err((
            "invalid_request",
            "code_challenge is not a base64url SHA-256 value",
        ));
    }
    Ok(challenge)
}

/// Step 4: the nonce, if any, within bounds.
fn check_nonce(params: &Params) -> Result<Option<&str>, Refusal> {
    let nonce = params.get("nonce");
    if nonce.is_some_and(|n| n.len() > MAX_PARAM_LEN) {
        return Err(("invalid_request", "nonce is too long"));
    }
    Ok(nonce)
}

/// Step 5: grant the supported scopes the client asked for (`openid`
/// required where the profile has ID tokens).
fn granted_scopes(c: &CountyIdp, params: &Params) -> Result<Vec<String>, Refusal> {
    let requested: Vec<&str> = params
        .get("scope")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let profile = c.info.profile;
    if profile.has_id_token() && !requested.contains(&"openid") {
        return Err(("invalid_scope", "scope must include openid"));
    }
    let supported = profile::supported_scopes(profile);
    let mut scopes: Vec<String> = Vec::new();
    for s in requested {
        if supported.contains(&s) && !scopes.iter().any(|x| x == s) {
            scopes.push(s.to_owned());
        }
    }
    if scopes.is_empty() {
        return Err(("invalid_scope", "no supported scope requested"));
    }
    Ok(scopes)
}

/// Step 6: `prompt` values (`none` stands alone).
fn prompts(params: &Params) -> Result<Vec<&str>, Refusal> {
    let prompts: Vec<&str> = params
        .get("prompt")
        .unwrap_or("")
        .split_whitespace()
        .collect();
    if prompts.contains(&"none") && prompts.len() > 1 {
        return Err(("invalid_request", "prompt=none cannot be combined"));
    }
    Ok(prompts)
}

/// Step 7a: a remembered ("保持登入狀態") session of this browser gets a
/// code straight away; returns where to send the browser.
fn remembered_session(
    c: &CountyIdp,
    jar: &CookieJar,
    request: &AuthRequest,
    now: i64,
) -> Option<Url> {
    let sid = jar.get(SESSION_COOKIE).map(|ck| key_of(ck.value()))?;
    let mut g = c.grants();
    g.purge(now);
    let session = g.sessions.get(&sid).cloned()?;
    c.user(&session.username)?;
    let to = issue_code(
        &mut g,
        c,
        request,
        &session.username,
        session.auth_time,
        now,
    );
    tracing::info!(county = c.info.code, "signed in from a remembered session");
    Some(to)
}

/// Step 7b: the login form, bound to this browser (a cookie) and to a
/// single-use form token.
fn show_login_form(ctx: &Ctx, jar: CookieJar, request: &AuthRequest, now: i64) -> Response {
    let c = ctx.idp();
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
    (jar, login_page(ctx, request, &ft, "", None)).into_response()
}

/// `form-action` sources for the login page: its own origin plus the
/// client's loopback origin (browsers apply it to the POST's redirect).
pub(super) fn form_action_for(uri: &Url) -> String {
    match (uri.host(), uri.port_or_known_default()) {
        (Some(Host::Ipv4(_)), Some(port)) => format!("http://127.0.0.1:{port}"),
        // CSP host sources cannot express an IPv6 literal: no restriction.
        _ => "*".to_owned(),
    }
}

pub(super) fn issue_code(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_action_allows_the_client_port_only() {
        let u = Url::parse("http://127.0.0.1:4321/callback/ntpc").unwrap();
        assert_eq!(form_action_for(&u), "http://127.0.0.1:4321");
    }
}
