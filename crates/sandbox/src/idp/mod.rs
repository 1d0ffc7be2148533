//! The county identity providers of the sandbox: one OAuth 2.0 / OpenID
//! Connect provider per entry of [`educloud_contract::county::COUNTIES`],
//! each at `{base}idp/{code}` (the issuer, no trailing slash), in one of the
//! three real profiles ([`profile`]): sso.edu.tw, Kaohsiung, Taipei.
//!
//! [`IdpRegistry`] is the shared state (keys, demo users, live grants, a
//! test clock) and the Rust API the sandbox's Education Cloud half calls to
//! check county tokens the way a relying party would
//! ([`IdpRegistry::verify_id_token`], [`IdpRegistry::identity_for_access_token`]).
//! [`router`] serves every county over HTTP.
//!
//! Architecture invariant: the IdPs know nothing of Education Cloud accounts;
//! the cloud half knows the IdPs only through this module's public API.

mod admin;
mod authorize;
mod error;
mod grants;
mod http;
mod keys;
mod login;
mod logout;
mod metadata;
mod pages;
pub mod profile;
pub(crate) mod redirect;
mod resources;
mod token;
mod users;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

use educloud_contract::county::{CountyInfo, IdpProfile, COUNTIES};
use jsonwebtoken::{Algorithm, Validation};
use serde::Deserialize;
use url::Url;

pub use error::IdpError;
pub use http::router;
pub use keys::KEY_FILE;
/// HTML-escapes text (element content and quoted attributes).
pub use pages::esc as escape_html;
pub use users::{ClassInfo, DemoUser, DEMO_CLOUD_PASSWORD, DEMO_PASSWORD};

use grants::{AccessGrant, Clock, Grants};
use keys::{KeyRing, SigningKey};

/// The OAuth client id of EduCloud Desktop at every county IdP.
pub const CLIENT_ID: &str = educloud_contract::wire::DESKTOP_CLIENT_ID;
/// The client secret the sandbox IdPs accept for [`CLIENT_ID`]
/// (`client_secret_basic` / `client_secret_post`), standing in for one an
/// IT policy would supply. Sending none (public client + PKCE) also works;
/// sending a wrong one is `invalid_client`. Clearly fake.
pub const SANDBOX_CLIENT_SECRET: &str = "sandbox-client-secret";

/// How to build the registry.
#[derive(Debug, Clone, Default)]
pub struct IdpOptions {
    /// Where the initial signing key is persisted (`idp-signing-key.pem`);
    /// `None` = a key generated once per process, in memory.
    pub data_dir: Option<PathBuf>,
}

/// Identity facts from a verified county token: what Education Cloud binds
/// an account to (`county`, `sub`) and shows (name, title, school).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountyClaims {
    /// County code, e.g. `ntpc`.
    pub county: &'static str,
    /// The issuer that vouched for the identity.
    pub issuer: String,
    /// The subject as the token's audience sees it (pairwise for Kaohsiung,
    /// the `uuid` of Taipei's `/api/user`).
    pub sub: String,
    /// Full name (姓名).
    pub name: String,
    /// The county account name (e.g. `ntpctest`).
    pub preferred_username: String,
    pub email: Option<String>,
    /// 教師 / 職員 / 學生.
    pub role: String,
    /// Job title (職稱), e.g. 專任教師.
    pub title: String,
    pub school_id: String,
    pub school_name: String,
    /// A stable id of the presented token, for replay detection: the ID
    /// token's `jti`, or SHA-256 (base64url) of a Taipei access token.
    pub token_id: String,
    /// When the token stops being valid (Unix seconds).
    pub expires_at: i64,
}

/// One county's provider.
pub(crate) struct CountyIdp {
    pub info: &'static CountyInfo,
    /// `{base}idp/{code}`.
    pub issuer: String,
    /// `/idp/{code}` (where its router is nested; its cookies' path).
    pub path: String,
    pub users: Vec<DemoUser>,
    keys: RwLock<KeyRing>,
    grants: Mutex<Grants>,
}

impl CountyIdp {
    pub fn grants(&self) -> MutexGuard<'_, Grants> {
        self.grants.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn key_ring(&self) -> KeyRing {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    pub fn user(&self, username: &str) -> Option<&DemoUser> {
        self.users.iter().find(|u| u.username == username)
    }
}

/// All county IdPs of one sandbox: shared (`Arc`) by the HTTP handlers and
/// the Education Cloud half.
pub struct IdpRegistry {
    base_url: Url,
    counties: Vec<CountyIdp>,
    clock: Clock,
}

impl std::fmt::Debug for IdpRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdpRegistry")
            .field("base_url", &self.base_url.as_str())
            .field("counties", &self.counties.len())
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct IdTokenClaims {
    sub: String,
    exp: i64,
    iat: i64,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    jti: Option<String>,
}

impl IdpRegistry {
    /// Builds every county's IdP under `base_url` (e.g.
    /// `http://127.0.0.1:41234/`), loading or generating the signing key off
    /// the async runtime.
    pub async fn start(base_url: &Url, options: IdpOptions) -> Result<Arc<Self>, IdpError> {
        let dir = options.data_dir.clone();
        let key = tokio::task::spawn_blocking(move || keys::load_or_generate(dir.as_deref()))
            .await
            .map_err(|e| IdpError::Keys(e.to_string()))??;
        Ok(Arc::new(Self::with_key(base_url, key)))
    }

    fn with_key(base_url: &Url, key: Arc<SigningKey>) -> Self {
        let base = base_url.as_str().trim_end_matches('/');
        let counties = COUNTIES
            .iter()
            .enumerate()
            .map(|(i, info)| CountyIdp {
                info,
                issuer: format!("{base}/idp/{}", info.code),
                path: format!("/idp/{}", info.code),
                users: users::demo_users_for(info, i),
                keys: RwLock::new(KeyRing::new(Arc::clone(&key))),
                grants: Mutex::new(Grants::default()),
            })
            .collect();
        Self {
            base_url: base_url.clone(),
            counties,
            clock: Clock::default(),
        }
    }

    /// The sandbox's base URL (with a trailing slash).
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    pub(crate) fn county_idps(&self) -> &[CountyIdp] {
        &self.counties
    }

    fn county(&self, code: &str) -> Result<&CountyIdp, IdpError> {
        self.counties
            .iter()
            .find(|c| c.info.code == code)
            .ok_or_else(|| IdpError::UnknownCounty(code.to_owned()))
    }

    /// The issuer of a county: `{base}idp/{code}`, no trailing slash.
    pub fn issuer(&self, county: &str) -> Option<&str> {
        self.county(county).ok().map(|c| c.issuer.as_str())
    }

    /// Every county (in `COUNTIES` order) with its issuer.
    pub fn counties(&self) -> impl Iterator<Item = (&'static CountyInfo, &str)> + '_ {
        self.counties.iter().map(|c| (c.info, c.issuer.as_str()))
    }

    /// Every demo user of every county.
    pub fn demo_users(&self) -> impl Iterator<Item = &DemoUser> + '_ {
        self.counties.iter().flat_map(|c| c.users.iter())
    }

    /// One demo user.
    pub fn demo_user(&self, county: &str, username: &str) -> Option<&DemoUser> {
        self.county(county).ok()?.user(username)
    }

    /// The registry's clock (Unix seconds, possibly advanced by tests).
    pub fn now(&self) -> i64 {
        self.clock.now()
    }

    /// Moves every IdP's clock forward (codes and tokens expire sooner).
    /// Also served as `POST {base}idp/_admin/advance-clock?seconds=N`.
    pub fn advance_clock(&self, seconds: i64) {
        self.clock.advance(seconds);
    }

    /// The published JWKS of a county (`None` for Taipei: it signs nothing).
    pub fn jwks(&self, county: &str) -> Option<serde_json::Value> {
        let c = self.county(county).ok()?;
        c.info.profile.has_id_token().then(|| c.key_ring().jwks())
    }

    /// Gives `county` a freshly generated signing key; the old ones stay in
    /// its JWKS. Returns the new `kid`. Also served as
    /// `POST {issuer}/_admin/rotate-keys`.
    pub async fn rotate_keys(&self, county: &str) -> Result<String, IdpError> {
        let c = self.county(county)?;
        if !c.info.profile.has_id_token() {
            return Err(IdpError::WrongProfile {
                county: county.to_owned(),
                what: "signed tokens",
            });
        }
        let key = tokio::task::spawn_blocking(SigningKey::generate)
            .await
            .map_err(|e| IdpError::Keys(e.to_string()))??;
        let kid = key.kid().to_owned();
        c.keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .rotate(Arc::new(key));
        tracing::info!(county, %kid, "rotated the county signing key");
        Ok(kid)
    }

    /// Verifies a county ID token like a relying party: RS256 signature
    /// against the county's published keys (`kid` required), `iss` = the
    /// county's issuer, `aud` contains `expected_aud`, `azp` (if present) =
    /// `expected_aud`, `exp` in the future, `iat` not in the future. The
    /// subject must be one of the county's users; role, title and school come
    /// from the county's directory (what the real RP reads from eduinfo /
    /// kh_titles).
    ///
    /// Errors: [`IdpError::UnknownCounty`], [`IdpError::WrongProfile`] (Taipei),
    /// [`IdpError::TokenExpired`], [`IdpError::TokenInvalid`].
    pub fn verify_id_token(
        &self,
        county: &str,
        token: &str,
        expected_aud: &str,
    ) -> Result<CountyClaims, IdpError> {
        let c = self.county(county)?;
        if !c.info.profile.has_id_token() {
            return Err(IdpError::WrongProfile {
                county: county.to_owned(),
                what: "ID tokens",
            });
        }
        let invalid = |why: &str| IdpError::TokenInvalid(why.to_owned());
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid("not a JWT"))?;
        if header.alg != Algorithm::RS256 {
            return Err(invalid("algorithm is not RS256"));
        }
        let kid = header.kid.ok_or_else(|| invalid("no kid"))?;
        let key = c
            .key_ring()
            .find(&kid)
            .ok_or_else(|| invalid("unknown kid"))?;
        let mut v = Validation::new(Algorithm::RS256);
        v.set_issuer(&[&c.issuer]);
        v.set_audience(&[expected_aud]);
        v.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        v.validate_exp = false; // checked below against the registry clock
        v.validate_nbf = false;
        v.leeway = 0;
        let data =
            jsonwebtoken::decode::<IdTokenClaims>(token, key.decoding(), &v).map_err(|e| {
                use jsonwebtoken::errors::ErrorKind as K;
                match e.kind() {
                    K::InvalidSignature => invalid("bad signature"),
                    K::InvalidIssuer => invalid("wrong issuer"),
                    K::InvalidAudience => invalid("wrong audience"),
                    K::MissingRequiredClaim(_) => invalid("missing claim"),
                    _ => invalid("malformed token"),
                }
            })?;
        let claims = data.claims;
        let now = self.now();
        if claims.exp <= now {
            return Err(IdpError::TokenExpired);
        }
        if claims.iat > now + 60 {
            return Err(invalid("issued in the future"));
        }
        if claims.azp.as_deref().is_some_and(|azp| azp != expected_aud) {
            return Err(invalid("wrong azp"));
        }
        let user = c
            .users
            .iter()
            .find(|u| u.subject_for(expected_aud) == claims.sub)
            .ok_or_else(|| invalid("unknown subject"))?;
        let token_id = claims.jti.unwrap_or_else(|| grants::key_of(token));
        Ok(claims_of(c, user, claims.sub, token_id, claims.exp))
    }

    /// The identity behind a county access token, as the county's user API
    /// would return it (for the Taipei profile, which has no ID token: its
    /// `/api/user` and `/api/profile`). Works for every profile; the token
    /// must be live, have been issued to `expected_client` (its audience:
    /// what a relying party learns from the county's token introspection),
    /// and, for Taipei, carry scope `user`.
    ///
    /// Errors: [`IdpError::UnknownCounty`], [`IdpError::TokenExpired`],
    /// [`IdpError::TokenInvalid`] (unknown, revoked, another client's, or
    /// lacking scope).
    pub fn identity_for_access_token(
        &self,
        county: &str,
        token: &str,
        expected_client: &str,
    ) -> Result<CountyClaims, IdpError> {
        let c = self.county(county)?;
        let key = grants::key_of(token);
        let grant: AccessGrant = c
            .grants()
            .access
            .get(&key)
            .cloned()
            .ok_or_else(|| IdpError::TokenInvalid("unknown or revoked access token".into()))?;
        if grant.expires_at <= self.now() {
            return Err(IdpError::TokenExpired);
        }
        // The access token's audience: a token the county issued to another
        // client must not sign anyone in here (token substitution).
        if grant.client_id != expected_client {
            return Err(IdpError::TokenInvalid(
                "access token was issued to another client".into(),
            ));
        }
        if c.info.profile == IdpProfile::TaipeiOauth2 && !grant.has_scope("user") {
            return Err(IdpError::TokenInvalid(
                "access token lacks scope `user`".into(),
            ));
        }
        let user = c
            .user(&grant.username)
            .ok_or_else(|| IdpError::TokenInvalid("unknown user".into()))?;
        let sub = user.subject_for(&grant.client_id);
        Ok(claims_of(c, user, sub, key, grant.expires_at))
    }

    /// Test support for the cloud half: signs an ID token for a demo user
    /// exactly as the token endpoint would after a login (aud = azp =
    /// `client_id`, 1 h lifetime), without driving the login page.
    pub fn mint_id_token(
        &self,
        county: &str,
        username: &str,
        client_id: &str,
        nonce: Option<&str>,
    ) -> Result<String, IdpError> {
        let c = self.county(county)?;
        if !c.info.profile.has_id_token() {
            return Err(IdpError::WrongProfile {
                county: county.to_owned(),
                what: "ID tokens",
            });
        }
        let user = c
            .user(username)
            .ok_or_else(|| IdpError::TokenInvalid(format!("no demo user `{username}`")))?;
        let scopes: Vec<String> = profile::scopes(c.info.profile)
            .iter()
            .map(|s| s.to_string())
            .collect();
        let now = self.now();
        token::sign_id_token(c, user, client_id, &scopes, nonce, now, now)
    }

    /// Test support for the cloud half: issues a live access token for a
    /// demo user with the profile's usual scopes, as a login would.
    pub fn mint_access_token(
        &self,
        county: &str,
        username: &str,
        client_id: &str,
    ) -> Result<String, IdpError> {
        let c = self.county(county)?;
        if c.user(username).is_none() {
            return Err(IdpError::TokenInvalid(format!("no demo user `{username}`")));
        }
        let scopes = profile::scopes(c.info.profile)
            .iter()
            .map(|s| s.to_string())
            .collect();
        let token = grants::random_secret();
        let now = self.now();
        let mut g = c.grants();
        g.purge(now);
        g.access.insert(
            grants::key_of(&token),
            AccessGrant {
                username: username.to_owned(),
                client_id: client_id.to_owned(),
                scopes,
                expires_at: now + grants::ACCESS_TTL,
                family: grants::random_secret(),
            },
        );
        Ok(token)
    }
}

fn claims_of(
    c: &CountyIdp,
    user: &DemoUser,
    sub: String,
    token_id: String,
    expires_at: i64,
) -> CountyClaims {
    CountyClaims {
        county: c.info.code,
        issuer: c.issuer.clone(),
        sub,
        name: user.name.to_owned(),
        preferred_username: user.username.clone(),
        email: user.email.clone(),
        role: user.role.to_owned(),
        title: user.title.to_owned(),
        school_id: user.school_id.clone(),
        school_name: user.school_name.clone(),
        token_id,
        expires_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn registry() -> Arc<IdpRegistry> {
        let base = Url::parse("http://127.0.0.1:9/").unwrap();
        IdpRegistry::start(&base, IdpOptions::default())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn issuers_follow_the_base_url() {
        let r = registry().await;
        assert_eq!(r.issuer("ntpc"), Some("http://127.0.0.1:9/idp/ntpc"));
        assert_eq!(r.counties().count(), 23);
        assert_eq!(r.demo_users().count(), 23 * 4);
        assert!(r.jwks("tp").is_none());
        assert!(r.jwks("kh").is_some());
    }

    #[tokio::test]
    async fn minted_id_token_verifies_and_carries_the_directory_facts() {
        let r = registry().await;
        let t = r
            .mint_id_token("ntpc", "ntpctest", CLIENT_ID, Some("n"))
            .unwrap();
        let c = r.verify_id_token("ntpc", &t, CLIENT_ID).unwrap();
        assert_eq!(c.county, "ntpc");
        assert_eq!(c.school_id, "014569");
        assert_eq!(c.school_name, "新北市立育林國民中學");
        assert_eq!((c.role.as_str(), c.title.as_str()), ("教師", "專任教師"));
        assert_eq!(c.name, "王小明");
        let user = r.demo_user("ntpc", "ntpctest").unwrap();
        assert_eq!(c.sub, user.subject_for(CLIENT_ID));
    }

    #[tokio::test]
    async fn id_token_checks_fail_with_stable_codes() {
        let r = registry().await;
        let t = r
            .mint_id_token("ntpc", "ntpctest", CLIENT_ID, None)
            .unwrap();
        // Wrong audience, wrong county (issuer), tampered, garbage.
        let e = r.verify_id_token("ntpc", &t, "someone-else").unwrap_err();
        assert_eq!(e.code(), "token.invalid");
        let e = r.verify_id_token("kl", &t, CLIENT_ID).unwrap_err();
        assert_eq!(e.code(), "token.invalid");
        // Flip one signature character well inside the signature.
        let at = t.rfind('.').unwrap() + 10;
        let flipped = if &t[at..at + 1] == "A" { "B" } else { "A" };
        let tampered = format!("{}{flipped}{}", &t[..at], &t[at + 1..]);
        assert_eq!(
            r.verify_id_token("ntpc", &tampered, CLIENT_ID)
                .unwrap_err()
                .code(),
            "token.invalid"
        );
        assert_eq!(
            r.verify_id_token("ntpc", "x.y.z", CLIENT_ID)
                .unwrap_err()
                .code(),
            "token.invalid"
        );
        assert_eq!(
            r.verify_id_token("tp", &t, CLIENT_ID).unwrap_err().code(),
            "idp.wrong_profile"
        );
        assert_eq!(
            r.verify_id_token("zz", &t, CLIENT_ID).unwrap_err().code(),
            "idp.unknown_county"
        );
        // Expiry follows the registry clock.
        r.advance_clock(3601);
        assert_eq!(
            r.verify_id_token("ntpc", &t, CLIENT_ID).unwrap_err().code(),
            "token.expired"
        );
    }

    #[tokio::test]
    async fn alg_none_is_refused() {
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        use base64::Engine as _;
        let r = registry().await;
        let t = r
            .mint_id_token("ntpc", "ntpctest", CLIENT_ID, None)
            .unwrap();
        let payload = t.split('.').nth(1).unwrap();
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let forged = format!("{header}.{payload}.");
        assert_eq!(
            r.verify_id_token("ntpc", &forged, CLIENT_ID)
                .unwrap_err()
                .code(),
            "token.invalid"
        );
    }

    #[tokio::test]
    async fn taipei_identity_comes_from_the_access_token() {
        let r = registry().await;
        let t = r.mint_access_token("tp", "tptest", CLIENT_ID).unwrap();
        let c = r.identity_for_access_token("tp", &t, CLIENT_ID).unwrap();
        assert_eq!(c.preferred_username, "tptest");
        assert_eq!(c.school_name, "臺北市立示範國民小學");
        assert_eq!(c.token_id, grants::key_of(&t));
        assert_eq!(
            r.identity_for_access_token("tp", "nope", CLIENT_ID)
                .unwrap_err()
                .code(),
            "token.invalid"
        );
        // A token of one county means nothing at another.
        assert!(r.identity_for_access_token("ntpc", &t, CLIENT_ID).is_err());
        r.advance_clock(3601);
        assert_eq!(
            r.identity_for_access_token("tp", &t, CLIENT_ID)
                .unwrap_err()
                .code(),
            "token.expired"
        );
    }
}
