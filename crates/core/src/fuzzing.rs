//! Entry points for the fuzz targets (`fuzz/`, cargo feature `fuzzing`;
//! never compiled into the app): thin wrappers over the crate-private
//! parsers and checks that take outside input, so libFuzzer (and the stable
//! property tests in `fuzz/tests/props.rs`) feed exactly the code the app
//! runs. Owned by the tests helper; each wrapper is one call.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::directory::{CountyIdp, CountySource};
use crate::oidc::{CountyIdentity, LoopbackRedirect};

/// ID-token claims (+ the sso.edu.tw `eduinfo` answer) → the identity the
/// app shows and registers with (`oidc/claims.rs`).
pub fn identity_from_claims(
    county: &str,
    sub: &str,
    claims: &Map<String, Value>,
    eduinfo: Option<&Value>,
) -> CountyIdentity {
    crate::oidc::claims::identity_from_claims(county, sub, claims, eduinfo)
}

/// A county issuer from the service configuration or policy
/// (`directory.rs`).
pub fn check_issuer(code: &str, issuer: &str) -> Result<(), String> {
    crate::directory::check_issuer(code, issuer)
}

/// A URL-valued policy key (`ServiceUrl`, `ProxyUrl`, …): absolute, one of
/// `schemes`, or plain http to a loopback host (`policy/check.rs`).
pub fn check_policy_url(u: &str, schemes: &[&str]) -> Result<(), String> {
    crate::policy::check::check_url(u, schemes)
}

/// A discovery-document endpoint (`oidc/discovery.rs`): https or loopback.
pub fn check_endpoint(url: &str) -> bool {
    crate::oidc::discovery::check_endpoint("endpoint", url).is_ok()
}

fn county(issuer: &str) -> CountyIdp {
    CountyIdp {
        code: "ntpc".into(),
        name_zh: "新北市".into(),
        name_en: "New Taipei City".into(),
        issuer: issuer.into(),
        client_id: educloud_contract::wire::DESKTOP_CLIENT_ID.into(),
        client_secret: None,
        scopes: vec!["openid".into()],
        profile: educloud_contract::county::IdpProfile::Oidc,
        account_label_zh: String::new(),
        account_label_en: String::new(),
        source: CountySource::Service,
    }
}

/// A county's discovery document, as fetched for `issuer`: `Ok` means the
/// app would use it (issuer exact, every endpoint https or loopback).
pub fn parse_discovery(issuer: &str, body: &[u8]) -> Result<Vec<String>, String> {
    crate::oidc::discovery::parse_discovery(&county(issuer), body, "discovery")
        .map(|m| {
            let mut urls = vec![
                m.issuer().as_str().to_string(),
                m.authorization_endpoint().as_str().to_string(),
                m.jwks_uri().as_str().to_string(),
            ];
            urls.extend(m.token_endpoint().map(|t| t.as_str().to_string()));
            urls.extend(m.userinfo_endpoint().map(|u| u.as_str().to_string()));
            urls
        })
        .map_err(|e| e.code().to_string())
}

/// A county's JWKS: `Ok(n)` = n keys the app would try.
pub fn parse_jwks(body: &[u8]) -> Result<usize, String> {
    crate::oidc::discovery::parse_jwks(body, "jwks")
        .map(|k| k.keys().len())
        .map_err(|e| e.code().to_string())
}

/// The loopback redirect listener of one sign-in, driven from outside:
/// bound on 127.0.0.1, expecting `state`.
pub struct Loopback {
    inner: LoopbackRedirect,
}

impl Loopback {
    pub async fn bind(county: &str, state: &str) -> crate::Result<Loopback> {
        let inner = LoopbackRedirect::bind(county, "zh-TW").await?;
        inner.expect_state(state);
        Ok(Loopback { inner })
    }

    pub fn addr(&self) -> SocketAddr {
        self.inner.local_addr()
    }

    pub fn path(&self) -> String {
        self.inner.redirect_uri().path().to_string()
    }

    /// The parameters of the request handed to the sign-in flow, if one was
    /// within `wait`.
    pub async fn taken(&mut self, wait: Duration) -> Option<Vec<(String, String)>> {
        match tokio::time::timeout(wait, self.inner.next()).await {
            Ok(Ok(cb)) => Some(cb.params.clone()),
            _ => None,
        }
    }

    pub async fn close(self) {
        self.inner.close().await;
    }
}
