//! One county identity provider as a relying party sees it: the
//! authorization request, the token exchange and the identity calls, with
//! `openidconnect` 4.1's types and an HTTP client that refuses redirects.
//!
//! Checks (each has a hostile-IdP test, see `tests/hostile_idp.rs`):
//! - discovery ([`super::discovery`]): the document's `issuer` equals the
//!   configured issuer exactly; every endpoint is `https` (or loopback);
//! - ID token ([`super::verify`]): signature against the JWKS with
//!   asymmetric algorithms only (never `none`, never HS*), one JWKS refetch
//!   on an unknown key (rotation), no `kid` with several keys → rejected
//!   (openidconnect's `AmbiguousKeyId`), `iss`, `aud` ∋ client id and no
//!   untrusted audience, `azp` = client id when present (required with
//!   several audiences), `exp` (within [`super::CLOCK_LEEWAY`]), `iat` not
//!   in the future beyond [`super::IAT_SKEW`] nor older than
//!   [`super::IAT_MAX_AGE`], `nonce`, non-empty `sub`; on shared devices
//!   `auth_time` no older than the request; a failed time check with the
//!   computer's clock far off is `clock.skewed`;
//! - `at_hash`, when the ID token carries one, matches the access token
//!   (OIDC Core §3.1.3.6; optional in the code flow, checked when present);
//! - UserInfo (bearer header) and eduinfo: their `sub` equals the ID token's.
//!
//! Discovery documents and JWKS are cached per issuer / `jwks_uri` in the
//! store's `cache` table ([`MetadataCache`]): `Cache-Control: max-age` is
//! honoured (capped at [`super::MAX_CACHE_TTL`]; `no-store`/`no-cache`/
//! `max-age=0` are not cached), else [`super::DISCOVERY_TTL`] /
//! [`super::JWKS_TTL`]. A cached document is checked again exactly like a
//! fetched one (issuer, https endpoints) and discarded when it no longer
//! passes; an unknown `kid` still refetches the JWKS once and updates the
//! cache.

use std::time::Instant;

use educloud_contract::county::IdpProfile;
use openidconnect::core::{
    CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType, CoreGenderClaim,
};
use openidconnect::{
    AccessToken, AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret,
    CsrfToken, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, StandardErrorResponse, SubjectIdentifier, TokenResponse,
    UserInfoClaims, UserInfoError,
};
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use url::Url;

use super::cache::{discovery_key, jwks_key, oauth_metadata_key, MetadataCache};
use super::claims::{claims_json, identity_from_claims, overlay};
use super::discovery::{base, check_endpoint, discover};
use super::http::{net_text, IdpHttp, IdpHttpError};
use super::taipei::taipei_metadata;
use super::types::{EduClaims, EduClient, EduProviderMetadata};
use super::verify::TokenTimes;
use super::{code, rejected, CountyIdentity};
use crate::directory::CountyIdp;
use crate::net::limits;
use crate::{CoreError, Result};

/// A resolved county provider (metadata and keys fetched and checked).
pub(crate) struct Provider {
    pub idp: CountyIdp,
    pub http: IdpHttp,
    pub(crate) metadata: EduProviderMetadata,
    pub(crate) redirect: Option<RedirectUrl>,
    /// Whether the authorization response must carry `iss` (RFC 9207).
    pub iss_required: bool,
    pub end_session: Option<Url>,
    /// The RFC 7009 revocation endpoint, when the metadata has one.
    pub revocation: Option<Url>,
    pub(crate) what: String,
}

/// What an authorization request needs to remember.
pub(crate) struct AuthorizationRequest {
    pub url: Url,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
    /// When the request was made (the fresh-login check counts from here).
    pub requested_at: Instant,
}

/// The verified result of a code redemption.
pub(crate) struct Redeemed {
    pub identity: CountyIdentity,
    pub credential: super::CountyCredential,
    pub timings: super::VerifyTimings,
}

impl Provider {
    /// Fetches (or takes from `cache`) and checks the county's metadata
    /// (and JWKS).
    pub async fn resolve(
        idp: &CountyIdp,
        http: IdpHttp,
        cache: MetadataCache<'_>,
    ) -> Result<Provider> {
        let what = format!("{} sign-in service", idp.code);
        check_endpoint("issuer", &idp.issuer)?;
        let (metadata, iss_required) = match idp.profile {
            IdpProfile::TaipeiOauth2 => taipei_metadata(idp, &http, &what, cache).await?,
            _ => {
                let m = discover(idp, &http, &what, cache).await?;
                let iss = m
                    .additional_metadata()
                    .authorization_response_iss_parameter_supported
                    .unwrap_or(false);
                (m, iss)
            }
        };
        let end_session = metadata
            .additional_metadata()
            .end_session_endpoint
            .as_deref()
            .and_then(|u| Url::parse(u).ok());
        let revocation = metadata
            .additional_metadata()
            .revocation_endpoint
            .as_deref()
            .and_then(|u| Url::parse(u).ok());
        Ok(Provider {
            idp: idp.clone(),
            http,
            metadata,
            redirect: None,
            iss_required,
            end_session,
            revocation,
            what,
        })
    }

    /// Drops this provider's cached documents (after a failed sign-in, so
    /// the next attempt starts from fresh metadata).
    pub fn forget_cached(&self, cache: MetadataCache<'_>) {
        match self.idp.profile {
            IdpProfile::TaipeiOauth2 => cache.forget(&oauth_metadata_key(&self.idp.issuer)),
            _ => {
                cache.forget(&discovery_key(&self.idp.issuer));
                cache.forget(&jwks_key(self.metadata.jwks_uri().as_str()));
            }
        }
    }

    pub fn set_redirect(&mut self, redirect: &Url) -> Result<()> {
        self.redirect = Some(
            RedirectUrl::new(redirect.to_string())
                .map_err(|e| CoreError::Internal(e.to_string()))?,
        );
        Ok(())
    }

    /// Keys currently known from the JWKS.
    pub fn jwks_len(&self) -> usize {
        self.metadata.jwks().keys().len()
    }

    /// The issuer exactly as configured.
    pub fn issuer(&self) -> &str {
        &self.idp.issuer
    }

    pub(crate) fn client(&self) -> EduClient {
        let secret = self
            .idp
            .client_secret
            .as_ref()
            .map(|s| ClientSecret::new(s.expose_secret().to_string()));
        let mut client = EduClient::from_provider_metadata(
            self.metadata.clone(),
            ClientId::new(self.idp.client_id.clone()),
            secret,
        )
        .set_auth_type(AuthType::BasicAuth);
        if let Some(r) = &self.redirect {
            client = client.set_redirect_uri(r.clone());
        }
        if !self.idp.profile.has_id_token() {
            client = client.disable_openid_scope();
        }
        client
    }

    /// Builds the authorization request: code flow, PKCE S256 (fresh 32-byte
    /// verifier), `state`, `nonce`, the county's scopes.
    pub fn authorize(&self, prompt_login: bool) -> AuthorizationRequest {
        let client = self.client();
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        let has_id_token = self.idp.profile.has_id_token();
        for scope in &self.idp.scopes {
            // openidconnect adds `openid` itself.
            if has_id_token && scope == "openid" {
                continue;
            }
            req = req.add_scope(Scope::new(scope.clone()));
        }
        req = req.set_pkce_challenge(challenge);
        if prompt_login {
            // Shared devices: the login form again, and an ID token that
            // proves it (`auth_time`, checked in `verify`). For the Taipei
            // profile both are sent too; without an ID token nothing can
            // prove the county honoured them.
            req = req
                .add_prompt(CoreAuthPrompt::Login)
                .set_max_age(std::time::Duration::ZERO);
        }
        let (url, state, nonce) = req.url();
        AuthorizationRequest {
            url,
            state,
            nonce,
            verifier,
            requested_at: Instant::now(),
        }
    }

    /// Redeems `code` and verifies everything that comes back.
    pub async fn redeem(
        &mut self,
        code: SecretString,
        verifier: PkceCodeVerifier,
        nonce: &Nonce,
        cache: MetadataCache<'_>,
        fresh_login_since: Option<Instant>,
    ) -> Result<Redeemed> {
        let exchange_started = Instant::now();
        let client = self.client();
        let token = client
            .exchange_code(AuthorizationCode::new(code.expose_secret().to_string()))
            .map_err(|e| CoreError::BadResponse {
                what: self.what.clone(),
                detail: net_text(&e.to_string()),
            })?
            .set_pkce_verifier(verifier)
            .request_async(
                &self
                    .http
                    .limited(limits::TOKEN, "the county's token answer"),
            )
            .await
            .map_err(|e| self.token_error(e))?;
        let code_exchange = exchange_started.elapsed();
        let times = TokenTimes {
            date_skew: self.http.last_date_skew(),
            fresh_login_within: fresh_login_since.map(|since| since.elapsed()),
        };
        let verify_started = Instant::now();
        let timings = move || super::VerifyTimings {
            code_exchange,
            verification: verify_started.elapsed(),
        };
        let access = token.access_token().clone();
        match self.idp.profile {
            IdpProfile::TaipeiOauth2 => {
                let identity = self.taipei_identity(&access).await?;
                Ok(Redeemed {
                    identity,
                    credential: super::CountyCredential::AccessToken(SecretString::from(
                        access.secret().to_string(),
                    )),
                    timings: timings(),
                })
            }
            profile => {
                let id_token = token
                    .id_token()
                    .ok_or_else(|| {
                        rejected(code::ID_TOKEN_MISSING, "no id_token in the token response")
                    })?
                    .clone();
                let claims = self
                    .verify_id_token(&id_token, nonce, &access, cache, times)
                    .await?;
                let sub = claims.subject().clone();
                let mut merged = claims_json(&claims);
                if let Some(userinfo) = self.userinfo(&access, &sub).await? {
                    overlay(&mut merged, userinfo);
                }
                let eduinfo = if profile == IdpProfile::SsoEduTw {
                    self.eduinfo(&access, &sub).await?
                } else {
                    None
                };
                let identity =
                    identity_from_claims(&self.idp.code, sub.as_str(), &merged, eduinfo.as_ref());
                Ok(Redeemed {
                    identity,
                    credential: super::CountyCredential::IdToken(SecretString::from(
                        id_token.to_string(),
                    )),
                    timings: timings(),
                })
            }
        }
    }

    pub(crate) fn token_error(
        &self,
        e: RequestTokenError<IdpHttpError, StandardErrorResponse<CoreErrorResponseType>>,
    ) -> CoreError {
        match e {
            RequestTokenError::ServerResponse(r) => CoreError::IdpError {
                error: r.error().as_ref().to_string(),
                description: r.error_description().cloned(),
            },
            RequestTokenError::Request(h) => h.into_core(&self.what),
            RequestTokenError::Parse(e, _body) => rejected(
                code::BAD_TOKEN_RESPONSE,
                // Only the path: a serde message may quote a token.
                format!("the token response does not parse at `{}`", e.path()),
            ),
            RequestTokenError::Other(s) => CoreError::BadResponse {
                what: self.what.clone(),
                detail: net_text(&s),
            },
        }
    }

    pub(crate) async fn userinfo(
        &self,
        access: &AccessToken,
        sub: &SubjectIdentifier,
    ) -> Result<Option<Value>> {
        let client = self.client();
        if client.user_info_url().is_none() {
            return Ok(None);
        }
        let request = client
            .user_info(access.clone(), Some(sub.clone()))
            .map_err(|e| CoreError::Internal(e.to_string()))?;
        let claims: UserInfoClaims<EduClaims, CoreGenderClaim> = request
            .request_async(
                &self
                    .http
                    .limited(limits::USERINFO, "the county's UserInfo answer"),
            )
            .await
            .map_err(|e| match e {
                UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(d)) => {
                    rejected(code::USERINFO_SUB_MISMATCH, net_text(&d))
                }
                UserInfoError::ClaimsVerification(other) => {
                    rejected(code::USERINFO_INVALID, net_text(&other.to_string()))
                }
                UserInfoError::Request(h) => h.into_core(&self.what),
                UserInfoError::Parse(p) => rejected(
                    code::USERINFO_INVALID,
                    format!("UserInfo does not parse at `{}`", p.path()),
                ),
                UserInfoError::Response(status, _, why) => CoreError::BadResponse {
                    what: self.what.clone(),
                    detail: format!("UserInfo: HTTP {status}: {why:?}"),
                },
                other => CoreError::BadResponse {
                    what: self.what.clone(),
                    detail: net_text(&other.to_string()),
                },
            })?;
        Ok(Some(serde_json::to_value(&claims).unwrap_or(Value::Null)))
    }

    /// sso.edu.tw's eduinfo resource (school, role, title). Missing
    /// permission (401/403/404) is not an error; a different `sub` is.
    pub(crate) async fn eduinfo(
        &self,
        access: &AccessToken,
        sub: &SubjectIdentifier,
    ) -> Result<Option<Value>> {
        let url = format!("{}/cncresource/api/v1/eduinfo", base(&self.idp.issuer));
        let got = self.bearer_json(&url, access).await?;
        let Some(v) = got else {
            return Ok(None);
        };
        if let Some(s) = v.get("sub").and_then(Value::as_str) {
            if s != sub.as_str() {
                return Err(rejected(
                    code::USERINFO_SUB_MISMATCH,
                    "eduinfo is about another subject",
                ));
            }
        }
        Ok(Some(v))
    }

    /// GET with the bearer token in the header (never the query).
    /// `Ok(None)` for 401/403/404.
    pub(crate) async fn bearer_json(
        &self,
        url: &str,
        access: &AccessToken,
    ) -> Result<Option<Value>> {
        check_endpoint("resource", url)?;
        let resp = self
            .http
            .client
            .get(url)
            .bearer_auth(access.secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|e| IdpHttpError::Transport(e).into_core(&self.what))?;
        let status = resp.status();
        if status.is_redirection() {
            return Err(rejected(
                code::REDIRECT_REFUSED,
                format!("{url:?} answered {status}"),
            ));
        }
        if matches!(status.as_u16(), 401 | 403 | 404) {
            tracing::warn!(%status, url = ?url, "resource not available with this token");
            return Ok(None);
        }
        if !status.is_success() {
            return Err(CoreError::BadResponse {
                what: self.what.clone(),
                detail: format!("{url:?}: HTTP {status}"),
            });
        }
        // Capped (eduinfo, Taipei's /api/user and /api/profile).
        let body =
            crate::net::read_limited(resp, limits::USERINFO, "the county's profile answer").await?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|_| CoreError::BadResponse {
                what: self.what.clone(),
                detail: format!("{url:?}: not JSON"),
            })
    }
}
