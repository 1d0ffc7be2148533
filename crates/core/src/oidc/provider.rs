//! One county identity provider as a relying party sees it: discovery,
//! the authorization request, the token exchange, ID-token verification,
//! UserInfo and the profile-specific identity resources — all with
//! `openidconnect` 4.1's types and an HTTP client that refuses redirects.
//!
//! Checks (each has a hostile-IdP test, see `tests/hostile_idp.rs`):
//! - discovery: the document's `issuer` equals the configured issuer
//!   exactly; every endpoint is `https` (or loopback);
//! - ID token: signature against the JWKS with asymmetric algorithms only
//!   (never `none`, never HS*), one JWKS refetch on an unknown key (rotation),
//!   no `kid` with several keys → rejected (openidconnect's
//!   `AmbiguousKeyId`), `iss`, `aud` ∋ client id and no untrusted audience,
//!   `azp` = client id when present (required with several audiences),
//!   `exp`, `iat` not in the future beyond [`IAT_SKEW`] nor older than
//!   [`IAT_MAX_AGE`], `nonce`, non-empty `sub`;
//! - UserInfo (bearer header) and eduinfo: their `sub` equals the ID token's.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::Utc;
use educloud_contract::county::IdpProfile;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AdditionalProviderMetadata, AsyncHttpClient, AuthType, AuthUrl,
    AuthorizationCode, ClaimsVerificationError, Client, ClientId, ClientSecret, CsrfToken,
    DiscoveryError, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet,
    HttpRequest, HttpResponse, IdToken, IdTokenClaims, IdTokenFields, IssuerUrl, JsonWebKeySet,
    JsonWebKeySetUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier,
    ProviderMetadata, RedirectUrl, RequestTokenError, ResponseTypes, Scope,
    SignatureVerificationError, StandardErrorResponse, StandardTokenResponse, SubjectIdentifier,
    TokenResponse, TokenUrl, UserInfoClaims, UserInfoError,
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use url::Url;

use super::CountyIdentity;
use crate::api::is_secure_url;
use crate::directory::CountyIdp;
use crate::{CoreError, Result};

/// Tolerated clock difference for `iat`.
pub const IAT_SKEW: Duration = Duration::from_secs(120);
/// The oldest `iat` accepted.
pub const IAT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// Signature algorithms an ID token may use: asymmetric only.
pub const ALLOWED_ALGS: [CoreJwsSigningAlgorithm; 9] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha384,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha384,
    CoreJwsSigningAlgorithm::RsaSsaPssSha512,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
];

/// Claims beyond the standard ones (kh_profile, kh_titles, school_name …),
/// kept as JSON and read by key.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct EduClaims {
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}
impl AdditionalClaims for EduClaims {}

/// Metadata fields openidconnect's core type does not model.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ExtraMetadata {
    #[serde(default)]
    pub authorization_response_iss_parameter_supported: Option<bool>,
    #[serde(default)]
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub revocation_endpoint: Option<String>,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

pub(crate) type EduIdToken =
    IdToken<EduClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;
pub(crate) type EduIdTokenClaims = IdTokenClaims<EduClaims, CoreGenderClaim>;
type EduIdTokenFields = IdTokenFields<
    EduClaims,
    EmptyExtraTokenFields,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;
pub(crate) type EduTokenResponse = StandardTokenResponse<EduIdTokenFields, CoreTokenType>;
pub(crate) type EduProviderMetadata = ProviderMetadata<
    ExtraMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;
pub(crate) type EduClient = Client<
    EduClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    EduTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

// ---------------------------------------------------------------------------
// HTTP for openidconnect: the app's client, 3xx refused.
// ---------------------------------------------------------------------------

#[derive(Debug, thiserror::Error)]
pub(crate) enum IdpHttpError {
    #[error("{0}")]
    Transport(#[source] reqwest::Error),
    #[error("refused to follow a redirect (HTTP {status}) to {location}")]
    Redirect { status: u16, location: String },
}

/// The app's HTTP client as openidconnect's [`AsyncHttpClient`].
#[derive(Debug, Clone)]
pub(crate) struct IdpHttp {
    pub client: reqwest::Client,
}

impl<'c> AsyncHttpClient<'c> for IdpHttp {
    type Error = IdpHttpError;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<HttpResponse, IdpHttpError>> + Send + 'c>>;

    fn call(&'c self, request: HttpRequest) -> Self::Future {
        Box::pin(async move {
            let request: reqwest::Request = request.try_into().map_err(IdpHttpError::Transport)?;
            let response = self
                .client
                .execute(request)
                .await
                .map_err(IdpHttpError::Transport)?;
            let status = response.status();
            if status.is_redirection() {
                let location = response
                    .headers()
                    .get(reqwest::header::LOCATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("?")
                    .to_string();
                return Err(IdpHttpError::Redirect {
                    status: status.as_u16(),
                    location,
                });
            }
            let mut builder = openidconnect::http::Response::builder().status(status);
            for (name, value) in response.headers() {
                builder = builder.header(name, value);
            }
            let body = response
                .bytes()
                .await
                .map_err(IdpHttpError::Transport)?
                .to_vec();
            builder.body(body).map_err(|e| IdpHttpError::Redirect {
                status: 0,
                location: format!("(unreadable response: {e})"),
            })
        })
    }
}

fn rejected(code: &'static str, detail: impl Into<String>) -> CoreError {
    CoreError::SignInRejected {
        code,
        detail: detail.into(),
    }
}

impl IdpHttpError {
    fn into_core(self, what: &str) -> CoreError {
        match self {
            IdpHttpError::Transport(e) => {
                if e.is_decode() || e.is_body() {
                    CoreError::BadResponse {
                        what: what.to_string(),
                        detail: e.to_string(),
                    }
                } else {
                    CoreError::Unreachable {
                        what: what.to_string(),
                        detail: chain(&e),
                    }
                }
            }
            e @ IdpHttpError::Redirect { .. } => rejected("signin.redirect_refused", e.to_string()),
        }
    }
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(inner) = cur {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        cur = inner.source();
    }
    s
}

// ---------------------------------------------------------------------------
// The provider.
// ---------------------------------------------------------------------------

/// A resolved county provider (metadata and keys fetched and checked).
pub(crate) struct Provider {
    pub idp: CountyIdp,
    pub http: IdpHttp,
    metadata: EduProviderMetadata,
    redirect: Option<RedirectUrl>,
    /// Whether the authorization response must carry `iss` (RFC 9207).
    pub iss_required: bool,
    pub end_session: Option<Url>,
    what: String,
}

/// What an authorization request needs to remember.
pub(crate) struct AuthorizationRequest {
    pub url: Url,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

/// The verified result of a code redemption.
pub(crate) struct Redeemed {
    pub identity: CountyIdentity,
    pub credential: super::CountyCredential,
}

fn base(issuer: &str) -> &str {
    issuer.trim_end_matches('/')
}

fn check_endpoint(what: &str, url: &str) -> Result<()> {
    let parsed = Url::parse(url)
        .map_err(|e| rejected("signin.insecure_endpoint", format!("{what} {url}: {e}")))?;
    if !is_secure_url(&parsed) {
        return Err(rejected(
            "signin.insecure_endpoint",
            format!("{what} {url} is not https"),
        ));
    }
    Ok(())
}

impl Provider {
    /// Fetches and checks the county's metadata (and JWKS).
    pub async fn resolve(idp: &CountyIdp, http: IdpHttp) -> Result<Provider> {
        let what = format!("{} sign-in service", idp.code);
        check_endpoint("issuer", &idp.issuer)?;
        let (metadata, iss_required) = match idp.profile {
            IdpProfile::TaipeiOauth2 => taipei_metadata(idp, &http, &what).await?,
            _ => {
                let m = discover(idp, &http, &what).await?;
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
        Ok(Provider {
            idp: idp.clone(),
            http,
            metadata,
            redirect: None,
            iss_required,
            end_session,
            what,
        })
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

    fn client(&self) -> EduClient {
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
            req = req.add_prompt(CoreAuthPrompt::Login);
        }
        let (url, state, nonce) = req.url();
        AuthorizationRequest {
            url,
            state,
            nonce,
            verifier,
        }
    }

    /// Redeems `code` and verifies everything that comes back.
    pub async fn redeem(
        &mut self,
        code: SecretString,
        verifier: PkceCodeVerifier,
        nonce: &Nonce,
    ) -> Result<Redeemed> {
        let client = self.client();
        let token = client
            .exchange_code(AuthorizationCode::new(code.expose_secret().to_string()))
            .map_err(|e| CoreError::BadResponse {
                what: self.what.clone(),
                detail: e.to_string(),
            })?
            .set_pkce_verifier(verifier)
            .request_async(&self.http)
            .await
            .map_err(|e| self.token_error(e))?;
        let access = token.access_token().clone();
        match self.idp.profile {
            IdpProfile::TaipeiOauth2 => {
                let identity = self.taipei_identity(&access).await?;
                Ok(Redeemed {
                    identity,
                    credential: super::CountyCredential::AccessToken(SecretString::from(
                        access.secret().to_string(),
                    )),
                })
            }
            profile => {
                let id_token = token
                    .id_token()
                    .ok_or_else(|| {
                        rejected(
                            "signin.id_token_missing",
                            "no id_token in the token response",
                        )
                    })?
                    .clone();
                let claims = self.verify_id_token(&id_token, nonce).await?;
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
                })
            }
        }
    }

    fn token_error(
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
                "signin.bad_token_response",
                // Only the path: a serde message may quote a token.
                format!("the token response does not parse at `{}`", e.path()),
            ),
            RequestTokenError::Other(s) => CoreError::BadResponse {
                what: self.what.clone(),
                detail: s,
            },
        }
    }

    /// Verifies the ID token; on an unknown key fetches the JWKS once more
    /// (key rotation) and tries again.
    pub async fn verify_id_token(
        &mut self,
        id_token: &EduIdToken,
        nonce: &Nonce,
    ) -> Result<EduIdTokenClaims> {
        let first = self.verify_with_current_keys(id_token, nonce);
        let result = match first {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                tracing::info!(county = %self.idp.code, "unknown signing key: fetching the JWKS once more");
                let jwks = JsonWebKeySet::fetch_async(self.metadata.jwks_uri(), &self.http)
                    .await
                    .map_err(|e| discovery_error(e, &self.what))?;
                self.metadata = self.metadata.clone().set_jwks(jwks);
                self.verify_with_current_keys(id_token, nonce)
            }
            other => other,
        };
        let claims = result.map_err(claims_error)?;
        let client_id = self.idp.client_id.as_str();
        match claims.authorized_party() {
            Some(azp) if azp.as_str() != client_id => {
                return Err(rejected(
                    "signin.id_token_audience",
                    format!("azp is {} (expected {client_id})", azp.as_str()),
                ))
            }
            None if claims.audiences().len() > 1 => {
                return Err(rejected(
                    "signin.id_token_audience",
                    "several audiences and no azp",
                ))
            }
            _ => {}
        }
        if claims.subject().as_str().trim().is_empty() {
            return Err(rejected("signin.id_token_subject", "empty sub"));
        }
        Ok(claims)
    }

    fn verify_with_current_keys(
        &self,
        id_token: &EduIdToken,
        nonce: &Nonce,
    ) -> std::result::Result<EduIdTokenClaims, ClaimsVerificationError> {
        let client = self.client();
        let verifier = client
            .id_token_verifier()
            .set_allowed_algs(ALLOWED_ALGS)
            .set_issue_time_verifier_fn(|iat| {
                let now = Utc::now();
                let skew = chrono::Duration::from_std(IAT_SKEW).unwrap_or_default();
                let max_age = chrono::Duration::from_std(IAT_MAX_AGE).unwrap_or_default();
                if iat > now + skew {
                    Err(format!("iat_in_future: issued at {iat}, now {now}"))
                } else if iat < now - max_age {
                    Err(format!("iat_too_old: issued at {iat}"))
                } else {
                    Ok(())
                }
            });
        id_token.claims(&verifier, nonce).cloned()
    }

    async fn userinfo(
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
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                UserInfoError::ClaimsVerification(ClaimsVerificationError::InvalidSubject(d)) => {
                    rejected("signin.userinfo_sub_mismatch", d)
                }
                UserInfoError::ClaimsVerification(other) => {
                    rejected("signin.userinfo_invalid", other.to_string())
                }
                UserInfoError::Request(h) => h.into_core(&self.what),
                UserInfoError::Parse(p) => rejected(
                    "signin.userinfo_invalid",
                    format!("UserInfo does not parse at `{}`", p.path()),
                ),
                UserInfoError::Response(status, _, why) => CoreError::BadResponse {
                    what: self.what.clone(),
                    detail: format!("UserInfo: HTTP {status}: {why}"),
                },
                other => CoreError::BadResponse {
                    what: self.what.clone(),
                    detail: other.to_string(),
                },
            })?;
        Ok(Some(serde_json::to_value(&claims).unwrap_or(Value::Null)))
    }

    /// sso.edu.tw's eduinfo resource (school, role, title). Missing
    /// permission (401/403/404) is not an error; a different `sub` is.
    async fn eduinfo(
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
                    "signin.userinfo_sub_mismatch",
                    "eduinfo is about another subject",
                ));
            }
        }
        Ok(Some(v))
    }

    async fn taipei_identity(&self, access: &AccessToken) -> Result<CountyIdentity> {
        let root = base(&self.idp.issuer);
        let user = self
            .bearer_json(&format!("{root}/api/user"), access)
            .await?
            .ok_or_else(|| CoreError::BadResponse {
                what: self.what.clone(),
                detail: "/api/user refused the access token".into(),
            })?;
        let uuid = str_of(&user, "uuid")
            .ok_or_else(|| rejected("signin.id_token_subject", "/api/user has no uuid"))?;
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

    /// GET with the bearer token in the header (never the query).
    /// `Ok(None)` for 401/403/404.
    async fn bearer_json(&self, url: &str, access: &AccessToken) -> Result<Option<Value>> {
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
                "signin.redirect_refused",
                format!("{url} answered {status}"),
            ));
        }
        if matches!(status.as_u16(), 401 | 403 | 404) {
            tracing::warn!(%status, url, "resource not available with this token");
            return Ok(None);
        }
        if !status.is_success() {
            return Err(CoreError::BadResponse {
                what: self.what.clone(),
                detail: format!("{url}: HTTP {status}"),
            });
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| IdpHttpError::Transport(e).into_core(&self.what))?;
        serde_json::from_slice(&body)
            .map(Some)
            .map_err(|_| CoreError::BadResponse {
                what: self.what.clone(),
                detail: format!("{url}: not JSON"),
            })
    }
}

fn discovery_error(e: DiscoveryError<IdpHttpError>, what: &str) -> CoreError {
    match e {
        DiscoveryError::Request(h) => h.into_core(what),
        DiscoveryError::Response(status, _, why) => CoreError::BadResponse {
            what: what.to_string(),
            detail: format!("HTTP {status}: {why}"),
        },
        DiscoveryError::Parse(p) => CoreError::BadResponse {
            what: what.to_string(),
            detail: format!("does not parse at `{}`", p.path()),
        },
        other => CoreError::BadResponse {
            what: what.to_string(),
            detail: other.to_string(),
        },
    }
}

/// Fetches a JSON document without following redirects.
async fn fetch_json(http: &IdpHttp, url: &str, what: &str) -> Result<Vec<u8>> {
    let request = openidconnect::http::Request::builder()
        .uri(url)
        .method("GET")
        .header("accept", "application/json")
        .body(Vec::new())
        .map_err(|e| CoreError::Internal(e.to_string()))?;
    let resp = http.call(request).await.map_err(|e| e.into_core(what))?;
    if !resp.status().is_success() {
        return Err(CoreError::BadResponse {
            what: what.to_string(),
            detail: format!("{url}: HTTP {}", resp.status()),
        });
    }
    Ok(resp.into_body())
}

/// OpenID discovery with the checks openidconnect's `discover_async` does
/// not do before fetching the JWKS (every endpoint https or loopback).
async fn discover(idp: &CountyIdp, http: &IdpHttp, what: &str) -> Result<EduProviderMetadata> {
    let url = format!("{}/.well-known/openid-configuration", base(&idp.issuer));
    let body = fetch_json(http, &url, what).await?;
    let metadata: EduProviderMetadata =
        serde_json::from_slice(&body).map_err(|e| CoreError::BadResponse {
            what: what.to_string(),
            detail: format!("discovery document: {e}"),
        })?;
    if metadata.issuer().as_str() != idp.issuer {
        return Err(rejected(
            "signin.discovery_issuer_mismatch",
            format!(
                "the discovery document names issuer {} (configured: {})",
                metadata.issuer().as_str(),
                idp.issuer
            ),
        ));
    }
    check_endpoint(
        "authorization_endpoint",
        metadata.authorization_endpoint().as_str(),
    )?;
    if let Some(t) = metadata.token_endpoint() {
        check_endpoint("token_endpoint", t.as_str())?;
    } else {
        return Err(CoreError::BadResponse {
            what: what.to_string(),
            detail: "the discovery document has no token_endpoint".into(),
        });
    }
    if let Some(u) = metadata.userinfo_endpoint() {
        check_endpoint("userinfo_endpoint", u.as_str())?;
    }
    check_endpoint("jwks_uri", metadata.jwks_uri().as_str())?;
    let extra = metadata.additional_metadata();
    for (name, value) in [
        ("end_session_endpoint", &extra.end_session_endpoint),
        ("revocation_endpoint", &extra.revocation_endpoint),
    ] {
        if let Some(v) = value {
            check_endpoint(name, v)?;
        }
    }
    let jwks = JsonWebKeySet::fetch_async(metadata.jwks_uri(), http)
        .await
        .map_err(|e| discovery_error(e, what))?;
    Ok(metadata.set_jwks(jwks))
}

/// The Taipei profile has no OIDC discovery: endpoints are derived from the
/// issuer base; an RFC 8414 document, when served with the same issuer,
/// only tells whether `iss` is required on the redirect.
async fn taipei_metadata(
    idp: &CountyIdp,
    http: &IdpHttp,
    what: &str,
) -> Result<(EduProviderMetadata, bool)> {
    let root = base(&idp.issuer);
    let mut iss_required = false;
    let mut end_session = None;
    let mut revocation = None;
    let url = format!("{root}/.well-known/oauth-authorization-server");
    match fetch_json(http, &url, what).await {
        Ok(body) => {
            if let Ok(doc) = serde_json::from_slice::<Value>(&body) {
                if doc.get("issuer").and_then(Value::as_str) == Some(idp.issuer.as_str()) {
                    iss_required = doc
                        .get("authorization_response_iss_parameter_supported")
                        .and_then(Value::as_bool)
                        .unwrap_or(false);
                    end_session = str_of(&doc, "end_session_endpoint")
                        .filter(|u| check_endpoint("end_session_endpoint", u).is_ok());
                    revocation = str_of(&doc, "revocation_endpoint")
                        .filter(|u| check_endpoint("revocation_endpoint", u).is_ok());
                }
            }
        }
        // Unreachable is fatal (the sign-in could not work anyway); a
        // missing document is not.
        Err(e @ CoreError::Unreachable { .. }) => return Err(e),
        Err(e) => tracing::debug!(error = %e, "no RFC 8414 metadata"),
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

fn claims_error(e: ClaimsVerificationError) -> CoreError {
    use ClaimsVerificationError as C;
    let detail = chain(&e);
    let code = match &e {
        C::Expired(m) if m.starts_with("iat_") => "signin.id_token_iat",
        C::Expired(_) => "signin.id_token_expired",
        C::InvalidAudience(_) => "signin.id_token_audience",
        C::InvalidIssuer(_) => "signin.id_token_issuer",
        C::InvalidNonce(_) => "signin.id_token_nonce",
        C::InvalidSubject(_) => "signin.id_token_subject",
        C::SignatureVerification(_) => "signin.id_token_signature",
        C::Unsupported(_) => "signin.id_token_unsupported",
        _ => "signin.id_token_invalid",
    };
    rejected(code, detail)
}

// ---------------------------------------------------------------------------
// Claims → CountyIdentity.
// ---------------------------------------------------------------------------

fn claims_json(claims: &EduIdTokenClaims) -> Map<String, Value> {
    match serde_json::to_value(claims) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// UserInfo values (non-empty) win over the ID token's.
fn overlay(into: &mut Map<String, Value>, from: Value) {
    if let Value::Object(m) = from {
        for (k, v) in m {
            let empty = v.is_null() || v.as_str().is_some_and(|s| s.trim().is_empty());
            if !empty {
                into.insert(k, v);
            }
        }
    }
}

fn str_of(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `[{"schoolid","titles":[role,title]}]` (eduinfo) or kh_titles in any of
/// the shapes seen: strings, `{role,title}` objects, eduinfo-like objects.
fn role_and_title(titles: &Value, school_id: Option<&str>) -> (Option<String>, Option<String>) {
    let Some(list) = titles.as_array() else {
        return (None, None);
    };
    if list.iter().all(Value::is_string) {
        let s: Vec<String> = list
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        return (s.first().cloned(), s.get(1).cloned());
    }
    let pick = list
        .iter()
        .find(|e| school_id.is_some() && str_of(e, "schoolid").as_deref() == school_id)
        .or_else(|| list.first());
    let Some(entry) = pick else {
        return (None, None);
    };
    if let Some(inner) = entry.get("titles").and_then(Value::as_array) {
        let s: Vec<String> = inner
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        return (s.first().cloned(), s.get(1).cloned());
    }
    (str_of(entry, "role"), str_of(entry, "title"))
}

pub(crate) fn identity_from_claims(
    county: &str,
    sub: &str,
    claims: &Map<String, Value>,
    eduinfo: Option<&Value>,
) -> CountyIdentity {
    let all = Value::Object(claims.clone());
    let kh = claims.get("kh_profile").cloned().unwrap_or(Value::Null);
    let school_id = eduinfo
        .and_then(|e| str_of(e, "schoolid"))
        .or_else(|| str_of(&kh, "schoolid"))
        .or_else(|| str_of(&all, "school_id"))
        .or_else(|| str_of(&all, "schoolid"));
    let (role, title) = eduinfo
        .and_then(|e| e.get("titles"))
        .or_else(|| claims.get("kh_titles"))
        .map(|t| role_and_title(t, school_id.as_deref()))
        .unwrap_or((None, None));
    CountyIdentity {
        county: county.to_string(),
        sub: sub.to_string(),
        name: str_of(&all, "name").or_else(|| str_of(&kh, "fullname")),
        email: str_of(&all, "email").or_else(|| str_of(&kh, "email")),
        preferred_username: str_of(&all, "preferred_username"),
        school_name: str_of(&all, "school_name")
            .or_else(|| str_of(&kh, "schoolname"))
            .or_else(|| str_of(&kh, "school_name")),
        school_id,
        role: role.or_else(|| str_of(&all, "role")),
        title: title.or_else(|| str_of(&all, "title")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn sso_identity_takes_school_and_titles_from_eduinfo() {
        let claims = obj(json!({"sub":"u-1","name":"王小明","email":"t@mail.edu.tw",
            "preferred_username":"ntpctest"}));
        let edu = json!({"schoolid":"014569","sub":"u-1",
            "titles":[{"schoolid":"999999","titles":["職員","幹事"]},
                      {"schoolid":"014569","titles":["教師","專任教師"]}]});
        let id = identity_from_claims("ntpc", "u-1", &claims, Some(&edu));
        assert_eq!(id.school_id.as_deref(), Some("014569"));
        assert_eq!(id.role.as_deref(), Some("教師"));
        assert_eq!(id.title.as_deref(), Some("專任教師"));
        assert_eq!(id.name.as_deref(), Some("王小明"));
        assert_eq!(id.preferred_username.as_deref(), Some("ntpctest"));
    }

    #[test]
    fn kaohsiung_identity_reads_kh_claims_and_tolerates_empty_email() {
        let claims = obj(json!({"sub":"pairwise-1","name":"","email":"",
            "kh_profile":{"fullname":"林老師","email":"lin@kh.edu.tw","schoolid":"583501"},
            "kh_titles":["教師","導師"]}));
        let id = identity_from_claims("kh", "pairwise-1", &claims, None);
        assert_eq!(id.name.as_deref(), Some("林老師"));
        assert_eq!(id.email.as_deref(), Some("lin@kh.edu.tw"));
        assert_eq!(id.school_id.as_deref(), Some("583501"));
        assert_eq!(
            (id.role.as_deref(), id.title.as_deref()),
            (Some("教師"), Some("導師"))
        );
        let objects = obj(json!({"kh_titles":[{"role":"職員","title":"組長"}]}));
        let id = identity_from_claims("kh", "s", &objects, None);
        assert_eq!(
            (id.role.as_deref(), id.title.as_deref()),
            (Some("職員"), Some("組長"))
        );
    }

    #[test]
    fn userinfo_overlays_only_non_empty_values() {
        let mut m = obj(json!({"name":"A","email":"a@x.tw"}));
        overlay(&mut m, json!({"name":"B","email":"","sub":"s"}));
        assert_eq!(m["name"], "B");
        assert_eq!(m["email"], "a@x.tw");
    }

    #[test]
    fn only_asymmetric_algorithms_are_allowed() {
        assert!(!ALLOWED_ALGS.contains(&CoreJwsSigningAlgorithm::HmacSha256));
        assert!(!ALLOWED_ALGS.contains(&CoreJwsSigningAlgorithm::None));
        assert!(ALLOWED_ALGS.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256));
    }
}
