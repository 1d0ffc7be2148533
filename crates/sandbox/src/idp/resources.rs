//! Protected resources (Bearer in the Authorization header only):
//! UserInfo, eduinfo, Taipei's `/api/user` and `/api/profile`.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Map, Value};

use super::error::OAuthError;
use super::grants::{key_of, AccessGrant};
use super::http::*;
use super::token::{identity_claims, titles_claim};
use super::users::DemoUser;
use super::CountyIdp;

// ---------------------------------------------------------------------------
// Protected resources (Bearer in the Authorization header only)

pub(super) fn bearer_grant(
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

pub(super) fn resource(
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

pub(super) async fn userinfo(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    resource(&ctx, &headers, q.as_deref(), "openid", |c, grant, user| {
        let mut out = Map::new();
        out.insert("sub".into(), json!(user.subject_for(&grant.client_id)));
        identity_claims(c, user, &grant.scopes, &mut out);
        Value::Object(out)
    })
}

pub(super) async fn eduinfo(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
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

pub(super) async fn api_user(
    State(ctx): State<Ctx>,
    headers: HeaderMap,
    RawQuery(q): RawQuery,
) -> Response {
    resource(&ctx, &headers, q.as_deref(), "user", |_, grant, user| {
        json!({
            "role": user.role,
            "uuid": user.subject_for(&grant.client_id),
            "name": user.name,
            "email": user.email.clone().unwrap_or_default(),
        })
    })
}

pub(super) async fn api_profile(
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
