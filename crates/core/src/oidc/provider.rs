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
//! - `at_hash`, when the ID token carries one, matches the access token
//!   (OIDC Core §3.1.3.6; optional in the code flow, checked when present);
//! - UserInfo (bearer header) and eduinfo: their `sub` equals the ID token's.
//!
//! Discovery documents and JWKS are cached per issuer / `jwks_uri` in the
//! store's `cache` table ([`MetadataCache`]): `Cache-Control: max-age` is
//! honoured (capped at [`MAX_CACHE_TTL`]; `no-store`/`no-cache`/`max-age=0`
//! are not cached), else [`DISCOVERY_TTL`] / [`JWKS_TTL`]. A cached document
//! is checked again exactly like a fetched one (issuer, https endpoints) and
//! discarded when it no longer passes; an unknown `kid` still refetches the
//! JWKS once and updates the cache.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

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
    AccessToken, AccessTokenHash, AdditionalClaims, AdditionalProviderMetadata, AsyncHttpClient,
    AuthType, AuthUrl, AuthorizationCode, ClaimsVerificationError, Client, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest,
    HttpResponse, IdToken, IdTokenClaims, IdTokenFields, IssuerUrl, JsonWebKeySet,
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
use crate::store::Store;
use crate::{CoreError, Result};

/// Tolerated clock difference for `iat`.
pub const IAT_SKEW: Duration = Duration::from_secs(120);
/// The oldest `iat` accepted.
pub const IAT_MAX_AGE: Duration = Duration::from_secs(24 * 3600);

/// How long a discovery (or RFC 8414) document is cached without a
/// `Cache-Control: max-age`.
pub const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// How long a JWKS is cached without a `Cache-Control: max-age`.
pub const JWKS_TTL: Duration = Duration::from_secs(600);
/// The longest a provider's `max-age` is honoured.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(24 * 3600);

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
                let location = crate::api::redirect_target(&response);
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
// The metadata cache (the store's `cache` table).
// ---------------------------------------------------------------------------

/// Discovery documents and JWKS in the store's `cache` table. Keys:
/// `oidc:discovery:{issuer}`, `oauth:metadata:{issuer}` (the Taipei
/// profile's RFC 8414 document) and `oidc:jwks:{jwks_uri}`. Values are the
/// documents exactly as received; a store failure only costs a fetch.
#[derive(Clone, Copy)]
pub(crate) struct MetadataCache<'a> {
    store: &'a Store,
    /// Whether fresh entries are used (the health check fetches anyway and
    /// only writes what it fetched).
    read: bool,
}

impl<'a> MetadataCache<'a> {
    /// Uses fresh entries and writes what it fetches.
    pub fn new(store: &'a Store) -> Self {
        MetadataCache { store, read: true }
    }

    /// Always fetches; writes what it fetched.
    pub fn refreshing(store: &'a Store) -> Self {
        MetadataCache { store, read: false }
    }

    fn get(&self, key: &str) -> Option<String> {
        if !self.read {
            return None;
        }
        match self.store.cached(key) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(error = %e, key, "the metadata cache could not be read");
                None
            }
        }
    }

    fn put(&self, key: &str, body: &[u8], ttl: Option<Duration>) {
        let Some(ttl) = ttl else {
            // The provider said not to keep it: drop what an earlier answer left.
            self.forget(key);
            return;
        };
        let Ok(text) = std::str::from_utf8(body) else {
            return;
        };
        let secs = i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX);
        if let Err(e) = self.store.put_cached(key, text, secs) {
            tracing::warn!(error = %e, key, "the metadata cache could not be written");
        }
    }

    fn forget(&self, key: &str) {
        if let Err(e) = self.store.drop_cached(key) {
            tracing::warn!(error = %e, key, "a cached document could not be dropped");
        }
    }
}

fn discovery_key(issuer: &str) -> String {
    format!("oidc:discovery:{issuer}")
}

fn oauth_metadata_key(issuer: &str) -> String {
    format!("oauth:metadata:{issuer}")
}

fn jwks_key(jwks_uri: &str) -> String {
    format!("oidc:jwks:{jwks_uri}")
}

/// How long a response may be cached (RFC 9111 §5.2.2): `None` for
/// `no-store`, `no-cache`, `max-age=0` or a malformed `max-age` (treated as
/// stale); `max-age` capped at [`MAX_CACHE_TTL`]; `default` without one.
pub(crate) fn cache_ttl(cache_control: Option<&str>, default: Duration) -> Option<Duration> {
    let Some(header) = cache_control else {
        return Some(default);
    };
    let mut max_age = None;
    for directive in header.split(',') {
        let directive = directive.trim();
        let (name, value) = match directive.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (directive, None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return None;
        }
        if name.eq_ignore_ascii_case("max-age") {
            max_age = Some(value.and_then(|v| v.parse::<u64>().ok())?);
        }
    }
    match max_age {
        Some(0) => None,
        Some(secs) => Some(Duration::from_secs(secs).min(MAX_CACHE_TTL)),
        None => Some(default),
    }
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
    /// The RFC 7009 revocation endpoint, when the metadata has one.
    pub revocation: Option<Url>,
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
    pub timings: super::VerifyTimings,
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
        cache: MetadataCache<'_>,
    ) -> Result<Redeemed> {
        let exchange_started = Instant::now();
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
        let code_exchange = exchange_started.elapsed();
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
                        rejected(
                            "signin.id_token_missing",
                            "no id_token in the token response",
                        )
                    })?
                    .clone();
                let claims = self
                    .verify_id_token(&id_token, nonce, &access, cache)
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
    /// (key rotation; the cache is updated) and tries again. `at_hash`, when
    /// present, must match `access`.
    pub async fn verify_id_token(
        &mut self,
        id_token: &EduIdToken,
        nonce: &Nonce,
        access: &AccessToken,
        cache: MetadataCache<'_>,
    ) -> Result<EduIdTokenClaims> {
        let first = self.verify_with_current_keys(id_token, nonce);
        let result = match first {
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                tracing::info!(county = %self.idp.code, "unknown signing key: fetching the JWKS once more");
                let jwks =
                    fetch_jwks(self.metadata.jwks_uri(), &self.http, &self.what, cache).await?;
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
        if let Some(expected) = claims.access_token_hash() {
            self.check_at_hash(id_token, expected, access)?;
        }
        Ok(claims)
    }

    /// OIDC Core §3.1.3.8: the left half of the access token's hash with
    /// the ID token's own algorithm (and key, for EdDSA), base64url.
    fn check_at_hash(
        &self,
        id_token: &EduIdToken,
        expected: &AccessTokenHash,
        access: &AccessToken,
    ) -> Result<()> {
        let client = self.client();
        let verifier = client.id_token_verifier().set_allowed_algs(ALLOWED_ALGS);
        let signature =
            |e: SignatureVerificationError| rejected("signin.id_token_signature", e.to_string());
        let alg = id_token.signing_alg().map_err(signature)?;
        let key = id_token.signing_key(&verifier).map_err(signature)?;
        let actual = AccessTokenHash::from_token(access, alg, key)
            .map_err(|e| rejected("signin.id_token_at_hash", e.to_string()))?;
        if actual != *expected {
            return Err(rejected(
                "signin.id_token_at_hash",
                "at_hash does not match the access token",
            ));
        }
        Ok(())
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

/// A fetched JSON document and how long it may be cached.
struct Fetched {
    body: Vec<u8>,
    content_type: Option<String>,
    /// `None`: not to be cached.
    ttl: Option<Duration>,
}

/// Fetches a JSON document without following redirects.
async fn fetch_json(
    http: &IdpHttp,
    url: &str,
    what: &str,
    default_ttl: Duration,
) -> Result<Fetched> {
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
    let header = |name: reqwest::header::HeaderName| {
        let values: Vec<&str> = resp
            .headers()
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    };
    let ttl = cache_ttl(
        header(reqwest::header::CACHE_CONTROL).as_deref(),
        default_ttl,
    );
    let content_type = header(reqwest::header::CONTENT_TYPE);
    Ok(Fetched {
        body: resp.into_body(),
        content_type,
        ttl,
    })
}

/// Parses a discovery document and checks it as if just fetched: the
/// issuer is the configured one, every endpoint https (or loopback).
fn parse_discovery(idp: &CountyIdp, body: &[u8], what: &str) -> Result<EduProviderMetadata> {
    let metadata: EduProviderMetadata =
        serde_json::from_slice(body).map_err(|e| CoreError::BadResponse {
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
    Ok(metadata)
}

/// OpenID discovery with the checks openidconnect's `discover_async` does
/// not do before fetching the JWKS (every endpoint https or loopback); the
/// document and the JWKS come from `cache` while fresh.
async fn discover(
    idp: &CountyIdp,
    http: &IdpHttp,
    what: &str,
    cache: MetadataCache<'_>,
) -> Result<EduProviderMetadata> {
    let key = discovery_key(&idp.issuer);
    let cached = cache
        .get(&key)
        .and_then(|text| match parse_discovery(idp, text.as_bytes(), what) {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!(code = e.code(), issuer = %idp.issuer, "discarding a cached discovery document");
                cache.forget(&key);
                None
            }
        });
    let metadata = match cached {
        Some(m) => {
            tracing::debug!(issuer = %idp.issuer, "discovery document from the cache");
            m
        }
        None => {
            let url = format!("{}/.well-known/openid-configuration", base(&idp.issuer));
            let fetched = fetch_json(http, &url, what, DISCOVERY_TTL).await?;
            let m = parse_discovery(idp, &fetched.body, what)?;
            cache.put(&key, &fetched.body, fetched.ttl);
            m
        }
    };
    let jwks = load_jwks(metadata.jwks_uri(), http, what, cache).await?;
    Ok(metadata.set_jwks(jwks))
}

type EduJwks = JsonWebKeySet<CoreJsonWebKey>;

fn parse_jwks(body: &[u8], what: &str) -> Result<EduJwks> {
    serde_json::from_slice(body).map_err(|e| CoreError::BadResponse {
        what: what.to_string(),
        detail: format!("JWKS: {e}"),
    })
}

/// The JWKS from `cache` while fresh, else fetched.
async fn load_jwks(
    uri: &JsonWebKeySetUrl,
    http: &IdpHttp,
    what: &str,
    cache: MetadataCache<'_>,
) -> Result<EduJwks> {
    let key = jwks_key(uri.as_str());
    if let Some(text) = cache.get(&key) {
        match parse_jwks(text.as_bytes(), what) {
            Ok(jwks) => {
                tracing::debug!(jwks_uri = %uri.as_str(), "JWKS from the cache");
                return Ok(jwks);
            }
            Err(e) => {
                tracing::warn!(error = %e, "discarding a cached JWKS");
                cache.forget(&key);
            }
        }
    }
    fetch_jwks(uri, http, what, cache).await
}

/// Fetches the JWKS (`application/json` or `application/jwk-set+json`, as
/// openidconnect's own fetch demands) and caches it.
async fn fetch_jwks(
    uri: &JsonWebKeySetUrl,
    http: &IdpHttp,
    what: &str,
    cache: MetadataCache<'_>,
) -> Result<EduJwks> {
    let fetched = fetch_json(http, uri.as_str(), what, JWKS_TTL).await?;
    if let Some(ct) = &fetched.content_type {
        let essence = ct.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json")
            && !essence.eq_ignore_ascii_case("application/jwk-set+json")
        {
            return Err(CoreError::BadResponse {
                what: what.to_string(),
                detail: format!("JWKS: unexpected Content-Type {ct}"),
            });
        }
    }
    let jwks = parse_jwks(&fetched.body, what)?;
    cache.put(&jwks_key(uri.as_str()), &fetched.body, fetched.ttl);
    Ok(jwks)
}

/// The Taipei RFC 8414 document, when it names the configured issuer
/// (from `cache` while fresh).
async fn taipei_document(
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
                tracing::warn!(issuer = %idp.issuer, "discarding a cached RFC 8414 document");
                cache.forget(&key);
            }
        }
    }
    let url = format!(
        "{}/.well-known/oauth-authorization-server",
        base(&idp.issuer)
    );
    match fetch_json(http, &url, what, DISCOVERY_TTL).await {
        Ok(fetched) => {
            let doc = ours(&fetched.body);
            if doc.is_some() {
                cache.put(&key, &fetched.body, fetched.ttl);
            }
            Ok(doc)
        }
        // Unreachable is fatal (the sign-in could not work anyway); a
        // missing document is not.
        Err(e @ CoreError::Unreachable { .. }) => Err(e),
        Err(e) => {
            tracing::debug!(error = %e, "no RFC 8414 metadata");
            Ok(None)
        }
    }
}

/// The Taipei profile has no OIDC discovery: endpoints are derived from the
/// issuer base; an RFC 8414 document, when served with the same issuer,
/// only tells whether `iss` is required on the redirect.
async fn taipei_metadata(
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
            "signin.redirect_refused",
            format!("{endpoint} answered {status}"),
        ));
    }
    if status == reqwest::StatusCode::OK {
        return Ok(());
    }
    let body = resp.bytes().await.unwrap_or_default();
    let error = serde_json::from_slice::<Value>(&body)
        .ok()
        .and_then(|v| str_of(&v, "error"));
    Err(CoreError::BadResponse {
        what: what.to_string(),
        detail: match error {
            Some(e) => format!("HTTP {status}: {e}"),
            None => format!("HTTP {status}"),
        },
    })
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
    fn cache_lifetimes_follow_cache_control() {
        let hour = Duration::from_secs(3600);
        assert_eq!(cache_ttl(None, hour), Some(hour));
        assert_eq!(cache_ttl(Some("public"), hour), Some(hour));
        assert_eq!(
            cache_ttl(Some("public, max-age=120"), hour),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            cache_ttl(Some("Max-Age=\"60\""), hour),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            cache_ttl(Some("max-age=99999999"), hour),
            Some(MAX_CACHE_TTL)
        );
        for refused in [
            "no-store",
            "no-cache",
            "max-age=0",
            "max-age=60, no-store",
            "max-age=soon",
            "max-age=-5",
            "max-age",
        ] {
            assert_eq!(cache_ttl(Some(refused), hour), None, "{refused}");
        }
    }

    #[test]
    fn only_asymmetric_algorithms_are_allowed() {
        assert!(!ALLOWED_ALGS.contains(&CoreJwsSigningAlgorithm::HmacSha256));
        assert!(!ALLOWED_ALGS.contains(&CoreJwsSigningAlgorithm::None));
        assert!(ALLOWED_ALGS.contains(&CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256));
    }
}
