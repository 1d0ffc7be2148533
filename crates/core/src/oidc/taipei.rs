//! The Taipei profile (plain OAuth 2.0, no ID token): endpoints derived
//! from the issuer, an optional RFC 8414 document, and the identity from
//! `/api/user` and `/api/profile`.

use openidconnect::core::{CoreJwsSigningAlgorithm, CoreResponseType, CoreSubjectIdentifierType};
use openidconnect::{AccessToken, AuthUrl, IssuerUrl, JsonWebKeySetUrl, ResponseTypes, TokenUrl};
use serde_json::Value;

use super::cache::{oauth_metadata_key, MetadataCache, DISCOVERY_TTL};
use super::claims::str_of;
use super::code;
use super::discovery::{base, check_endpoint};
use super::http::{fetch_json, IdpHttp};
use super::provider::Provider;
use super::rejected;
use super::types::{EduProviderMetadata, ExtraMetadata};
use super::CountyIdentity;
use crate::directory::CountyIdp;
use crate::net::limits;
use crate::{CoreError, Result};

/// The Taipei RFC 8414 document, when it names the configured issuer
/// (from `cache` while fresh).
pub(crate) async fn taipei_document(
    idp: &CountyIdp,
    http: &IdpHttp,
    what: &str,
    cache: MetadataCache<'_>,
) -> Result<Option<Value>> {
    let key = oauth_metadata_key(&idp.issuer);
    let ours = |body: &[u8]| {
        serde_json::from_slice::<Value>(body)
            .ok()
            .filter(|doc| doc.get("issuer").and_then(Value::as_str) == Some(idp.issuer.as_str()))
    };
    if let Some(text) = cache.get(&key) {
        match ours(text.as_bytes()) {
            Some(doc) => return Ok(Some(doc)),
            None => {
                tracing::warn!(issuer = ?idp.issuer, "discarding a cached RFC 8414 document");
                cache.forget(&key);
            }
        }
    }
    let url = format!(
        "{}/.well-known/oauth-authorization-server",
        base(&idp.issuer)
    );
    match fetch_json(
        &http.limited(limits::DISCOVERY, "the county's OAuth metadata"),
        &url,
        what,
        DISCOVERY_TTL,
    )
    .await
    {
        Ok(fetched) => {
            let doc = ours(&fetched.body);
            if doc.is_some() {
                cache.put(&key, &fetched.body, fetched.ttl);
            }
            Ok(doc)
        }
        // Unreachable or oversized is fatal (the sign-in could not work
        // anyway / a broken server); a missing document is not.
        Err(e @ (CoreError::Unreachable { .. } | CoreError::ResponseTooLarge { .. })) => Err(e),
        Err(e) => {
            tracing::debug!(error = ?e.to_string(), "no RFC 8414 metadata");
            Ok(None)
        }
    }
}

/// The Taipei profile has no OIDC discovery: endpoints are derived from the
/// issuer base; an RFC 8414 document, when served with the same issuer,
/// only tells whether `iss` is required on the redirect.
pub(crate) async fn taipei_metadata(
    idp: &CountyIdp,
    http: &IdpHttp,
    what: &str,
    cache: MetadataCache<'_>,
) -> Result<(EduProviderMetadata, bool)> {
    let root = base(&idp.issuer);
    let mut iss_required = false;
    let mut end_session = None;
    let mut revocation = None;
    if let Some(doc) = taipei_document(idp, http, what, cache).await? {
        iss_required = doc
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        end_session = str_of(&doc, "end_session_endpoint")
            .filter(|u| check_endpoint("end_session_endpoint", u).is_ok());
        revocation = str_of(&doc, "revocation_endpoint")
            .filter(|u| check_endpoint("revocation_endpoint", u).is_ok());
    }
    let internal = |e: url::ParseError| CoreError::Internal(e.to_string());
    let metadata = EduProviderMetadata::new(
        IssuerUrl::new(idp.issuer.clone()).map_err(internal)?,
        AuthUrl::new(format!("{root}/oauth/authorize")).map_err(internal)?,
        // Never fetched: this profile has no ID token.
        JsonWebKeySetUrl::new(format!("{root}/.no-jwks")).map_err(internal)?,
        vec![ResponseTypes::new(vec![CoreResponseType::Code])],
        vec![CoreSubjectIdentifierType::Public],
        vec![CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256],
        ExtraMetadata {
            authorization_response_iss_parameter_supported: Some(iss_required),
            end_session_endpoint: end_session,
            revocation_endpoint: revocation,
        },
    )
    .set_token_endpoint(Some(
        TokenUrl::new(format!("{root}/oauth/token")).map_err(internal)?,
    ));
    Ok((metadata, iss_required))
}

impl Provider {
    pub(crate) async fn taipei_identity(&self, access: &AccessToken) -> Result<CountyIdentity> {
        let root = base(&self.idp.issuer);
        let user = self
            .bearer_json(&format!("{root}/api/user"), access)
            .await?
            .ok_or_else(|| CoreError::BadResponse {
                what: self.what.clone(),
                detail: "/api/user refused the access token".into(),
            })?;
        let uuid = str_of(&user, "uuid")
            .ok_or_else(|| rejected(code::ID_TOKEN_SUBJECT, "/api/user has no uuid"))?;
        let profile = self
            .bearer_json(&format!("{root}/api/profile"), access)
            .await?
            .unwrap_or(Value::Null);
        Ok(CountyIdentity {
            county: self.idp.code.clone(),
            sub: uuid,
            name: str_of(&user, "name"),
            email: str_of(&user, "email"),
            preferred_username: str_of(&user, "account").or(str_of(&user, "username")),
            school_id: str_of(&profile, "o"),
            school_name: str_of(&profile, "organization"),
            role: str_of(&user, "role").or(str_of(&profile, "role")),
            title: str_of(&profile, "title"),
        })
    }
}
