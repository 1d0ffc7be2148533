//! RFC 7009 revocation of a county credential (a Taipei access token).

use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use super::claims::str_of;
use super::discovery::check_endpoint;
use super::http::IdpHttpError;
use super::{code, rejected, CountyCredential, VerifiedCounty};
use crate::desktop::Desktop;
use crate::{CoreError, Result};

/// A county's RFC 7009 revocation endpoint and the client that revokes
/// there (the policy's client secret, when any, stays redacted).
#[derive(Debug, Clone)]
pub struct CountyRevocation {
    pub endpoint: Url,
    pub(crate) client_id: String,
    pub(crate) client_secret: Option<SecretString>,
}

/// Revokes a verified county sign-in's credential at the county (RFC 7009)
/// when it is revocable: a Taipei access token, with a
/// `revocation_endpoint` in the county's metadata. `Ok(false)` when there
/// is nothing to revoke (an ID token is not an OAuth token; no endpoint).
pub async fn revoke_county_credential(
    desktop: &Desktop,
    verified: &VerifiedCounty,
) -> Result<bool> {
    let (CountyCredential::AccessToken(token), Some(revocation)) =
        (&verified.credential, &verified.revocation)
    else {
        return Ok(false);
    };
    let http = crate::api::http_client(desktop.policy())?;
    revoke_access_token(
        &http,
        &revocation.endpoint,
        &revocation.client_id,
        revocation.client_secret.as_ref(),
        token,
    )
    .await?;
    tracing::info!(county = %verified.identity.county, "county access token revoked");
    Ok(true)
}

/// RFC 7009: revokes a county access token. The request carries `token`
/// and `token_type_hint=access_token`, authenticated like the token
/// request (Basic with a policy secret, RFC 6749 §2.3.1 form-encoded; else
/// a public client's `client_id` in the body). 200 means revoked — or
/// unknown to the server, which §2.2 also answers with 200. Redirects are
/// refused.
pub(crate) async fn revoke_access_token(
    http: &reqwest::Client,
    endpoint: &Url,
    client_id: &str,
    client_secret: Option<&SecretString>,
    token: &SecretString,
) -> Result<()> {
    use base64::Engine;
    let what = "the county's revocation endpoint";
    check_endpoint("revocation_endpoint", endpoint.as_str())?;
    // The serializer is not `Send`: it must not live across an await.
    let body = {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        form.append_pair("token", token.expose_secret());
        form.append_pair("token_type_hint", "access_token");
        if client_secret.is_none() {
            form.append_pair("client_id", client_id);
        }
        form.finish()
    };
    let mut request = http
        .post(endpoint.clone())
        .header(reqwest::header::ACCEPT, "application/json")
        .header(
            reqwest::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        );
    if let Some(secret) = client_secret {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            enc(client_id),
            enc(secret.expose_secret())
        ));
        let mut value = reqwest::header::HeaderValue::from_str(&format!("Basic {basic}"))
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        value.set_sensitive(true);
        request = request.header(reqwest::header::AUTHORIZATION, value);
    }
    let resp = request
        .body(body)
        .send()
        .await
        .map_err(|e| IdpHttpError::Transport(e).into_core(what))?;
    let status = resp.status();
    if status.is_redirection() {
        return Err(rejected(
            code::REDIRECT_REFUSED,
            format!("{:?} answered {status}", endpoint.as_str()),
        ));
    }
    if status == reqwest::StatusCode::OK {
        return Ok(());
    }
    let body = crate::net::read_limited(resp, crate::net::limits::PROBLEM, what)
        .await
        .unwrap_or_default();
    let error = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| str_of(&v, "error"));
    Err(CoreError::BadResponse {
        what: what.to_string(),
        detail: match error {
            Some(e) => format!("HTTP {status}: {e:?}"),
            None => format!("HTTP {status}"),
        },
    })
}
