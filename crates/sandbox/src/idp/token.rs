//! The token endpoint: client authentication, authorization_code with PKCE
//! S256, refresh_token with rotation, and the ID token's claims.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use educloud_contract::county::IdpProfile;
use jsonwebtoken::{Algorithm, Header};
use serde_json::{json, Map, Value};

use super::error::{IdpError, OAuthError};
use super::grants::{
    key_of, random_secret, AccessGrant, Grants, RefreshGrant, ACCESS_TTL, REFRESH_TTL,
};
use super::http::*;
use super::redirect;
use super::users::DemoUser;
use super::{CountyIdp, CLIENT_ID, SANDBOX_CLIENT_SECRET};

// ---------------------------------------------------------------------------
// Token endpoint

pub(super) fn is_form(headers: &HeaderMap) -> bool {
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

pub(super) fn form_params(headers: &HeaderMap, body: &[u8]) -> Result<Params, OAuthError> {
    if !is_form(headers) {
        return Err(OAuthError::invalid_request(
            "the body must be application/x-www-form-urlencoded",
        ));
    }
    Params::parse(body)
        .map_err(|name| OAuthError::invalid_request(format!("parameter `{name}` is repeated")))
}

pub(super) fn form_decode(s: &str) -> Option<String> {
    percent_encoding::percent_decode_str(&s.replace('+', " "))
        .decode_utf8()
        .ok()
        .map(|c| c.into_owned())
}

/// Client authentication: none (public client with PKCE),
/// `client_secret_basic` or `client_secret_post` — never two at once.
pub(super) fn authenticate_client(headers: &HeaderMap, p: &Params) -> Result<String, OAuthError> {
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

pub(super) async fn token(State(ctx): State<Ctx>, headers: HeaderMap, body: Bytes) -> Response {
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

pub(super) struct Issue<'a> {
    username: &'a str,
    client_id: &'a str,
    scopes: &'a [String],
    family: &'a str,
    auth_time: i64,
    nonce: Option<&'a str>,
}

pub(super) fn issue_tokens(g: &mut Grants, now: i64, it: &Issue<'_>) -> (String, Option<String>) {
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

pub(super) fn token_response(
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

pub(super) fn code_grant(ctx: &Ctx, client_id: &str, p: &Params) -> Result<Value, OAuthError> {
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

pub(super) fn refresh_grant(ctx: &Ctx, client_id: &str, p: &Params) -> Result<Value, OAuthError> {
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

pub(super) fn titles_claim(user: &DemoUser) -> Value {
    json!([{ "schoolid": user.school_id, "titles": [user.role, user.title] }])
}

pub(super) fn kh_profile_claim(user: &DemoUser) -> Value {
    json!({
        "fullname": user.name,
        "email": user.email.clone().unwrap_or_default(),
        "schoolid": user.school_id,
    })
}

/// Identity claims by scope (shared by the ID token and UserInfo).
pub(super) fn identity_claims(
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

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
}
