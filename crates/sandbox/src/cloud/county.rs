//! How the Education Cloud checks a county credential: the seam between the
//! cloud and the county IdPs. The cloud verifies an ID token like any
//! relying party (signature against the county's keys, `iss`, `aud` = the
//! desktop client id, `exp`); for the Taipei profile it asks the county's
//! user API who an access token belongs to. The sandbox wires this to its
//! own IdP registry; tests may plug in their own.

use std::future::Future;
use std::pin::Pin;

/// A boxed, sendable future (the trait is used as `dyn`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the county presented.
#[derive(Clone, Copy)]
pub enum CountyCredential<'a> {
    IdToken(&'a str),
    /// The Taipei profile's OAuth2 access token.
    AccessToken(&'a str),
}

impl std::fmt::Debug for CountyCredential<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CountyCredential::IdToken(_) => f.write_str("IdToken([redacted])"),
            CountyCredential::AccessToken(_) => f.write_str("AccessToken([redacted])"),
        }
    }
}

/// Who the county says the user is (only verified claims).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CountyIdentity {
    /// The subject as the desktop client sees it (pairwise at Kaohsiung).
    pub sub: String,
    pub name: String,
    pub email: Option<String>,
    /// 教師 / 職員 / 學生 …
    pub role: Option<String>,
    /// e.g. 專任教師
    pub title: Option<String>,
    pub school_id: Option<String>,
    pub school_name: Option<String>,
    /// A stable id of the presented token (e.g. the ID token's `jti`), for
    /// replay detection; `None` = the token's own digest is used.
    pub token_id: Option<String>,
}

/// Why a county credential was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CountyCheckError {
    #[error("unknown county")]
    UnknownCounty,
    /// Wrong kind of credential for the county's profile.
    #[error("wrong credential for this county: {0}")]
    WrongProfile(String),
    #[error("token invalid: {0}")]
    Invalid(String),
    #[error("token expired")]
    Expired,
}

/// Verifies county credentials for the cloud.
pub trait CountyVerifier: Send + Sync + 'static {
    /// Checks `credential` from `county` issued to `audience` (the client id).
    fn verify<'a>(
        &'a self,
        county: &'a str,
        credential: CountyCredential<'a>,
        audience: &'a str,
    ) -> BoxFuture<'a, Result<CountyIdentity, CountyCheckError>>;

    /// The identity of the county's `{code}bound` demo user as the desktop
    /// client sees it, for seeding the pre-bound staff accounts; `None` if
    /// the county has no such user.
    fn bound_demo_user(&self, county: &str) -> Option<CountyIdentity>;
}

/// A verifier that knows no county (every credential is refused).
pub struct NoCounties;

impl CountyVerifier for NoCounties {
    fn verify<'a>(
        &'a self,
        _county: &'a str,
        _credential: CountyCredential<'a>,
        _audience: &'a str,
    ) -> BoxFuture<'a, Result<CountyIdentity, CountyCheckError>> {
        Box::pin(async { Err(CountyCheckError::UnknownCounty) })
    }

    fn bound_demo_user(&self, _county: &str) -> Option<CountyIdentity> {
        None
    }
}

/// The sandbox's own county IdPs, checked in-process with the keys and
/// grants they issued (what a real relying party does over JWKS / the user
/// API).
impl CountyVerifier for crate::idp::IdpRegistry {
    fn verify<'a>(
        &'a self,
        county: &'a str,
        credential: CountyCredential<'a>,
        audience: &'a str,
    ) -> BoxFuture<'a, Result<CountyIdentity, CountyCheckError>> {
        Box::pin(async move {
            let claims = match credential {
                CountyCredential::IdToken(t) => self.verify_id_token(county, t, audience),
                CountyCredential::AccessToken(t) => {
                    self.identity_for_access_token(county, t, audience)
                }
            }
            .map_err(|e| {
                use crate::idp::IdpError as E;
                match e {
                    E::UnknownCounty(_) => CountyCheckError::UnknownCounty,
                    E::WrongProfile { .. } => CountyCheckError::WrongProfile(e.to_string()),
                    E::TokenExpired => CountyCheckError::Expired,
                    E::TokenInvalid(_) | E::Keys(_) => CountyCheckError::Invalid(e.to_string()),
                }
            })?;
            Ok(CountyIdentity {
                sub: claims.sub,
                name: claims.name,
                email: claims.email,
                role: Some(claims.role).filter(|s| !s.is_empty()),
                title: Some(claims.title).filter(|s| !s.is_empty()),
                school_id: Some(claims.school_id).filter(|s| !s.is_empty()),
                school_name: Some(claims.school_name).filter(|s| !s.is_empty()),
                token_id: Some(claims.token_id),
            })
        })
    }

    fn bound_demo_user(&self, county: &str) -> Option<CountyIdentity> {
        let user = self.demo_user(county, &format!("{county}bound"))?;
        Some(CountyIdentity {
            sub: user.subject_for(crate::idp::CLIENT_ID),
            name: user.name.to_owned(),
            email: user.email.clone(),
            role: Some(user.role.to_owned()),
            title: Some(user.title.to_owned()),
            school_id: Some(user.school_id.clone()),
            school_name: Some(user.school_name.clone()),
            token_id: None,
        })
    }
}
