//! What every county endpoint shares: the per-county state ([`Ctx`]), the
//! router that nests each county at `/idp/{code}` with its profile's paths
//! ([`super::profile::endpoints`]), form/query [`Params`], and small response
//! helpers (redirects, no-store JSON, error pages, the cross-site check,
//! cookies).

use std::sync::Arc;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use axum_extra::extract::cookie::{Cookie, SameSite};
use serde_json::Value;
use url::Url;

use super::admin::{advance_clock, rotate_keys};
use super::authorize::{authorize_get, authorize_post};
use super::login::{cancel, login};
use super::logout::{end_session_get, end_session_post, revoke};
use super::metadata::{jwks, metadata, status};
use super::pages::{self, html, Locale};
use super::profile::{self, CANCEL_PATH, LOGIN_PATH, ROTATE_KEYS_PATH, STATUS_PATH};
use super::redirect;
use super::resources::{api_profile, api_user, eduinfo, userinfo};
use super::token::token;
use super::{CountyIdp, IdpRegistry};

/// Cookie binding a login form to the browser it was served to (CSRF).
pub(super) const BIND_COOKIE: &str = "educloud_idp_form";
/// Cookie of a "保持登入狀態" (stay signed in) session.
pub(super) const SESSION_COOKIE: &str = "educloud_idp_session";
/// Longest `state` / `nonce` accepted.
pub(super) const MAX_PARAM_LEN: usize = 1024;

#[derive(Clone)]
pub(super) struct Ctx {
    pub(super) reg: Arc<IdpRegistry>,
    pub(super) idx: usize,
}

impl Ctx {
    pub(super) fn idp(&self) -> &CountyIdp {
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
pub(super) struct Params(pub(super) Vec<(String, String)>);

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
    pub(super) fn parse(raw: &[u8]) -> Result<Self, String> {
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
    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

// ---------------------------------------------------------------------------
// Small response helpers

pub(super) fn found(location: &Url) -> Response {
    let mut res = StatusCode::FOUND.into_response();
    if let Ok(v) = HeaderValue::from_str(location.as_str()) {
        res.headers_mut().insert(header::LOCATION, v);
    }
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

pub(super) fn json_no_store(status: StatusCode, v: Value) -> Response {
    let mut res = (status, Json(v)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

pub(super) fn error_page(
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
pub(super) fn redirect_error(
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
pub(super) fn cross_site(reg: &IdpRegistry, headers: &HeaderMap) -> bool {
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

pub(super) fn cookie(
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
}
