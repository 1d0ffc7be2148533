//! IT checks: a county IdP's health (`educloud counties --check`) and a
//! test sign-in that stops at the verified identity (`educloud counties
//! test <code>`).

use std::time::Instant;

use educloud_contract::county::IdpProfile;
use serde::Serialize;

use super::gate::SignInGate;
use super::http::IdpHttp;
use super::start::{start_county_sign_in, SignInOptions, SignInProgress};
use super::{code, rejected, MetadataCache, Provider, VerifiedCounty};
use crate::desktop::Desktop;
use crate::directory::CountyIdp;
use crate::Result;

/// A county sign-in that stops at the verified identity: no Education
/// Cloud session, nothing stored (`educloud counties test <code>`, the IT
/// check). Uses its own gate.
pub async fn test_county_sign_in(
    desktop: &Desktop,
    county: &str,
    options: SignInOptions,
    progress: &dyn SignInProgress,
) -> Result<VerifiedCounty> {
    let directory = crate::directory::CountyDirectory::load(desktop).await?;
    let idp = directory.get(county)?;
    let gate = SignInGate::new();
    let pending = start_county_sign_in(desktop, idp, &gate, options).await?;
    progress.waiting_for_browser(pending.waiting());
    pending.wait_with(desktop, progress).await
}

/// Health of one county IdP (`educloud counties --check`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountyHealth {
    pub county: String,
    pub issuer: String,
    pub profile: IdpProfile,
    /// Discovery (or RFC 8414 for Taipei) answered and its issuer matched.
    pub ok: bool,
    /// Keys in the JWKS (None for profiles without ID tokens).
    pub jwks_keys: Option<usize>,
    /// The error code when not ok.
    pub error: Option<String>,
    pub detail: Option<String>,
    pub elapsed_ms: u64,
}

/// Checks a county IdP: metadata reachable, issuer matching, JWKS has keys.
/// Always fetches (a live check); what it fetched refreshes the cache.
pub async fn check_county(desktop: &Desktop, idp: &CountyIdp) -> CountyHealth {
    let started = Instant::now();
    let result = async {
        let http = IdpHttp::new(crate::api::http_client(desktop.policy())?);
        let provider =
            Provider::resolve(idp, http, MetadataCache::refreshing(&desktop.store)).await?;
        let keys = provider.jwks_len();
        if idp.profile.has_id_token() && keys == 0 {
            return Err(rejected(code::JWKS_EMPTY, "the JWKS has no keys"));
        }
        Ok(idp.profile.has_id_token().then_some(keys))
    }
    .await;
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(jwks_keys) => CountyHealth {
            county: idp.code.clone(),
            issuer: idp.issuer.clone(),
            profile: idp.profile,
            ok: true,
            jwks_keys,
            error: None,
            detail: None,
            elapsed_ms,
        },
        Err(e) => CountyHealth {
            county: idp.code.clone(),
            issuer: idp.issuer.clone(),
            profile: idp.profile,
            ok: false,
            jwks_keys: None,
            error: Some(e.code().to_string()),
            detail: e.detail(),
            elapsed_ms,
        },
    }
}
