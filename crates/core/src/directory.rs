//! The county directory: which county Open ID providers this app offers and
//! how to reach each one ([`CountyIdp`]).
//!
//! Source: the service configuration
//! (`GET {service}/.well-known/educloud-configuration`, cached in the store's
//! `cache` table for [`CONFIG_TTL_SECS`]), then IT policy:
//! - `CountyOverrides` change fields of a listed county or add a county the
//!   service does not list (`profile: "oidc"` = any standard OpenID provider
//!   found by discovery at `issuer`); a client secret can come only from
//!   policy;
//! - `AllowedCounties` hides the others.
//!
//! Order: as the service lists them, policy-added counties after (by code).
//! Issuers must be `https` except on loopback (the sandbox, tests); a county
//! that breaks this is left out and reported in [`CountyDirectory::problems`].

use educloud_contract::county::IdpProfile;
use secrecy::SecretString;
use serde::Serialize;
use url::Url;

use crate::api::{http_client, is_secure_url, EduCloudClient, ServiceConfiguration};
use crate::desktop::Desktop;
use crate::policy::Policy;
use crate::{CoreError, Result};

/// How long a fetched service configuration is reused.
pub const CONFIG_TTL_SECS: i64 = 3600;

/// Where a county's settings came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CountySource {
    /// Listed by the service configuration as is.
    Service,
    /// Listed by the service and changed by policy.
    Overridden,
    /// Added by policy.
    Policy,
}

/// One county's identity provider, ready for a sign-in.
#[derive(Debug, Clone)]
pub struct CountyIdp {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    /// The issuer (for `taipei_oauth2`: the OAuth2 base URL) exactly as
    /// configured (no slash added or removed: it is compared exactly).
    pub issuer: String,
    pub client_id: String,
    /// Only from IT policy; sent with client_secret_basic.
    pub client_secret: Option<SecretString>,
    pub scopes: Vec<String>,
    pub profile: IdpProfile,
    pub account_label_zh: String,
    pub account_label_en: String,
    pub source: CountySource,
}

/// What the UI lists for a county (no secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountyListing {
    pub code: String,
    pub name_zh: String,
    pub name_en: String,
    pub issuer: String,
    pub profile: IdpProfile,
    pub account_label_zh: String,
    pub account_label_en: String,
    pub source: CountySource,
}

impl CountyIdp {
    pub fn listing(&self) -> CountyListing {
        CountyListing {
            code: self.code.clone(),
            name_zh: self.name_zh.clone(),
            name_en: self.name_en.clone(),
            issuer: self.issuer.clone(),
            profile: self.profile,
            account_label_zh: self.account_label_zh.clone(),
            account_label_en: self.account_label_en.clone(),
            source: self.source,
        }
    }
}

/// The counties this app offers, in display order.
#[derive(Debug, Clone, Default)]
pub struct CountyDirectory {
    counties: Vec<CountyIdp>,
    /// Codes hidden by `AllowedCounties`.
    hidden: Vec<String>,
    /// Entries left out (bad issuer, incomplete policy entry …), in words.
    pub problems: Vec<String>,
}

/// Parses a profile name as policy and the service spell it.
pub fn parse_profile(s: &str) -> Option<IdpProfile> {
    serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
}

pub(crate) fn check_issuer(code: &str, issuer: &str) -> std::result::Result<(), String> {
    let url = Url::parse(issuer).map_err(|e| format!("county {code}: issuer {issuer}: {e}"))?;
    if !is_secure_url(&url) {
        return Err(format!(
            "county {code}: issuer {issuer} must be https (or loopback)"
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "county {code}: issuer {issuer} must not have a query or fragment"
        ));
    }
    Ok(())
}

impl CountyDirectory {
    /// Merges a service configuration with policy (pure; no I/O).
    pub fn from_configuration(config: &ServiceConfiguration, policy: &Policy) -> Self {
        let mut dir = CountyDirectory::default();
        let overrides = policy.county_overrides.clone().unwrap_or_default();
        let mut seen = Vec::new();
        for c in &config.counties {
            seen.push(c.code.clone());
            let fallback = educloud_contract::county::find(&c.code);
            let mut idp = CountyIdpDraft {
                code: c.code.clone(),
                name_zh: Some(c.name_zh.clone()),
                name_en: Some(c.name_en.clone()),
                issuer: Some(c.issuer.clone()),
                client_id: Some(c.client_id.clone()),
                client_secret: None,
                scopes: Some(c.scopes.clone()).filter(|s| !s.is_empty()),
                profile: Some(c.profile),
                account_label_zh: Some(c.account_label_zh.clone())
                    .filter(|l| !l.is_empty())
                    .or(fallback.map(|f| f.account_label_zh.to_string())),
                account_label_en: Some(c.account_label_en.clone())
                    .filter(|l| !l.is_empty())
                    .or(fallback.map(|f| f.account_label_en.to_string())),
                source: CountySource::Service,
            };
            if let Some(o) = overrides.get(&c.code) {
                if let Err(e) = idp.apply(o) {
                    dir.problems.push(e);
                }
            }
            dir.push(idp, policy);
        }
        for (code, o) in &overrides {
            if seen.contains(code) {
                continue;
            }
            if !educloud_contract::county::is_valid_code(code) {
                dir.problems
                    .push(format!("county {code}: not a valid county code"));
                continue;
            }
            let fallback = educloud_contract::county::find(code);
            let mut idp = CountyIdpDraft {
                code: code.clone(),
                name_zh: fallback.map(|f| f.name_zh.to_string()),
                name_en: fallback.map(|f| f.name_en.to_string()),
                issuer: None,
                client_id: None,
                client_secret: None,
                scopes: None,
                profile: None,
                account_label_zh: fallback.map(|f| f.account_label_zh.to_string()),
                account_label_en: fallback.map(|f| f.account_label_en.to_string()),
                source: CountySource::Policy,
            };
            if let Err(e) = idp.apply(o) {
                dir.problems.push(e);
                continue;
            }
            dir.push(idp, policy);
        }
        dir
    }

    fn push(&mut self, draft: CountyIdpDraft, policy: &Policy) {
        if !policy.county_allowed(&draft.code) {
            self.hidden.push(draft.code);
            return;
        }
        match draft.finish() {
            Ok(idp) => self.counties.push(idp),
            Err(e) => self.problems.push(e),
        }
    }

    /// Loads the directory for the desktop's service (configuration from
    /// the cache when fresh) merged with the desktop's policy.
    pub async fn load(desktop: &Desktop) -> Result<Self> {
        let config = service_configuration(desktop, false).await?;
        Ok(Self::from_configuration(&config, desktop.policy()))
    }

    /// Like [`load`](Self::load) but always fetches the configuration.
    pub async fn refresh(desktop: &Desktop) -> Result<Self> {
        let config = service_configuration(desktop, true).await?;
        Ok(Self::from_configuration(&config, desktop.policy()))
    }

    /// The counties in display order.
    pub fn counties(&self) -> &[CountyIdp] {
        &self.counties
    }

    /// UI entries in display order.
    pub fn listings(&self) -> Vec<CountyListing> {
        self.counties.iter().map(CountyIdp::listing).collect()
    }

    /// One county: `county.not_allowed` when policy hides it,
    /// `county.unknown` otherwise.
    pub fn get(&self, code: &str) -> Result<&CountyIdp> {
        if let Some(c) = self.counties.iter().find(|c| c.code == code) {
            return Ok(c);
        }
        if self.hidden.iter().any(|h| h == code) {
            return Err(CoreError::CountyNotAllowed(code.to_string()));
        }
        Err(CoreError::UnknownCounty(code.to_string()))
    }
}

struct CountyIdpDraft {
    code: String,
    name_zh: Option<String>,
    name_en: Option<String>,
    issuer: Option<String>,
    client_id: Option<String>,
    client_secret: Option<SecretString>,
    scopes: Option<Vec<String>>,
    profile: Option<IdpProfile>,
    account_label_zh: Option<String>,
    account_label_en: Option<String>,
    source: CountySource,
}

impl CountyIdpDraft {
    fn apply(&mut self, o: &crate::policy::CountyOverride) -> std::result::Result<(), String> {
        let profile = match o.profile.as_deref() {
            Some(p) => Some(
                parse_profile(p)
                    .ok_or_else(|| format!("county {}: unknown profile {p}", self.code))?,
            ),
            None => None,
        };
        let mut changed = false;
        let mut set = |dst: &mut Option<String>, src: &Option<String>| {
            if let Some(v) = src {
                *dst = Some(v.clone());
                changed = true;
            }
        };
        set(&mut self.name_zh, &o.name_zh);
        set(&mut self.name_en, &o.name_en);
        set(&mut self.issuer, &o.issuer);
        set(&mut self.client_id, &o.client_id);
        if let Some(s) = &o.scopes {
            self.scopes = Some(s.clone());
            changed = true;
        }
        if let Some(p) = profile {
            self.profile = Some(p);
            changed = true;
        }
        if let Some(secret) = &o.client_secret {
            self.client_secret = Some(secret.clone());
            changed = true;
        }
        if changed && self.source == CountySource::Service {
            self.source = CountySource::Overridden;
        }
        Ok(())
    }

    fn finish(self) -> std::result::Result<CountyIdp, String> {
        let code = self.code;
        let issuer = self
            .issuer
            .ok_or_else(|| format!("county {code}: no issuer"))?;
        check_issuer(&code, &issuer)?;
        let client_id = self
            .client_id
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| format!("county {code}: no client_id"))?;
        let profile = self.profile.unwrap_or(IdpProfile::Oidc);
        let scopes = self.scopes.unwrap_or_else(|| {
            default_scopes(profile)
                .iter()
                .map(|s| s.to_string())
                .collect()
        });
        Ok(CountyIdp {
            name_zh: self.name_zh.unwrap_or_else(|| code.clone()),
            name_en: self.name_en.unwrap_or_else(|| code.clone()),
            account_label_zh: self.account_label_zh.unwrap_or_else(|| "帳號".to_string()),
            account_label_en: self
                .account_label_en
                .unwrap_or_else(|| "Account".to_string()),
            code,
            issuer,
            client_id,
            client_secret: self.client_secret,
            scopes,
            profile,
            source: self.source,
        })
    }
}

/// Scopes asked for when neither the service nor policy names any.
pub fn default_scopes(profile: IdpProfile) -> &'static [&'static str] {
    match profile {
        IdpProfile::SsoEduTw => &["openid", "profile", "email", "eduinfo"],
        IdpProfile::Kaohsiung => &["openid", "email", "profile", "kh_profile", "kh_titles"],
        IdpProfile::TaipeiOauth2 => &["user", "profile"],
        IdpProfile::Oidc => &["openid", "profile", "email"],
    }
}

fn cache_key(service: &Url) -> String {
    format!("service-configuration:{service}")
}

/// The desktop's service configuration: from the store's cache while fresh
/// (unless `fresh`), else fetched and cached for [`CONFIG_TTL_SECS`].
pub async fn service_configuration(desktop: &Desktop, fresh: bool) -> Result<ServiceConfiguration> {
    let service = desktop.wait_service().await?.base_url.clone();
    let key = cache_key(&service);
    if !fresh {
        if let Some(text) = desktop.store.cached(&key)? {
            match serde_json::from_str::<ServiceConfiguration>(&text) {
                Ok(config) => return Ok(config),
                Err(e) => tracing::warn!(error = %e, "ignoring a cached configuration"),
            }
        }
    }
    let http = http_client(desktop.policy())?;
    let config = EduCloudClient::fetch_configuration(&http, &service).await?;
    let api_base = Url::parse(&config.api_base).map_err(|e| CoreError::BadResponse {
        what: "Education Cloud".into(),
        detail: format!("api_base: {e}"),
    })?;
    if !is_secure_url(&api_base) {
        return Err(CoreError::BadResponse {
            what: "Education Cloud".into(),
            detail: format!("api_base {api_base} must be https"),
        });
    }
    if let Ok(text) = serde_json::to_string(&config) {
        desktop.store.put_cached(&key, &text, CONFIG_TTL_SECS)?;
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;

    fn config() -> ServiceConfiguration {
        let county = |code: &str, profile: &str| {
            serde_json::json!({
                "code": code, "name_zh": format!("{code}-zh"), "name_en": format!("{code}-en"),
                "issuer": format!("http://127.0.0.1:9/idp/{code}"),
                "client_id": "educloud-desktop", "scopes": ["openid"], "profile": profile,
                "account_label_zh": "", "account_label_en": ""
            })
        };
        serde_json::from_value(serde_json::json!({
            "environment": "sandbox",
            "api_base": "http://127.0.0.1:9/api/v1/",
            "terms_version": "2026-11-01",
            "password_policy": {"min_length": 8, "max_length": 64, "min_classes": 3, "min_score": 3},
            "counties": [county("kl", "sso_edu_tw"), county("ntpc", "sso_edu_tw"),
                         county("tp", "taipei_oauth2"), county("kh", "kaohsiung")]
        }))
        .unwrap()
    }

    fn policy(json: &str) -> Policy {
        Policy::from_json(json).unwrap().0
    }

    #[test]
    fn service_order_is_kept_and_labels_fall_back_to_the_contract() {
        let d = CountyDirectory::from_configuration(&config(), &Policy::default());
        let codes: Vec<_> = d.counties().iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, ["kl", "ntpc", "tp", "kh"]);
        assert_eq!(
            d.get("tp").unwrap().account_label_zh,
            "臺北市校園單一身分驗證帳號"
        );
        assert_eq!(d.get("ntpc").unwrap().source, CountySource::Service);
        assert!(d.problems.is_empty());
        assert_eq!(d.get("zz").unwrap_err().code(), "county.unknown");
    }

    #[test]
    fn overrides_change_fields_add_counties_and_carry_the_secret() {
        let p = policy(
            r#"{"CountyOverrides": {
                "ntpc": {"issuer": "https://ntpc.sso.edu.tw", "client_id": "abc",
                         "client_secret": "s3cr3t", "profile": "oidc"},
                "lab": {"name_zh": "實驗", "issuer": "https://op.example.tw/realms/lab",
                        "client_id": "desk", "profile": "oidc"}}}"#,
        );
        let d = CountyDirectory::from_configuration(&config(), &p);
        let ntpc = d.get("ntpc").unwrap();
        assert_eq!(ntpc.issuer, "https://ntpc.sso.edu.tw");
        assert_eq!(ntpc.client_id, "abc");
        assert_eq!(ntpc.profile, IdpProfile::Oidc);
        assert_eq!(ntpc.source, CountySource::Overridden);
        assert_eq!(ntpc.scopes, ["openid"]);
        assert_eq!(
            ntpc.client_secret.as_ref().unwrap().expose_secret(),
            "s3cr3t"
        );
        let codes: Vec<_> = d.counties().iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, ["kl", "ntpc", "tp", "kh", "lab"]);
        let lab = d.get("lab").unwrap();
        assert_eq!(
            (lab.name_zh.as_str(), lab.name_en.as_str()),
            ("實驗", "lab")
        );
        assert_eq!(lab.scopes, ["openid", "profile", "email"]);
        assert_eq!(lab.source, CountySource::Policy);
        // The service never hands out a secret.
        assert!(d.get("kl").unwrap().client_secret.is_none());
        assert!(!format!("{d:?}").contains("s3cr3t"));
    }

    #[test]
    fn insecure_or_incomplete_entries_are_left_out_with_a_problem() {
        let p = policy(
            r#"{"CountyOverrides": {
                "kl": {"issuer": "http://kl.sso.edu.tw"},
                "new": {"issuer": "https://op.example.tw"},
                "bad": {"issuer": "https://op.example.tw", "client_id": "x", "profile": "saml"},
                "BAD": {"issuer": "https://op.example.tw", "client_id": "x"}}}"#,
        );
        let d = CountyDirectory::from_configuration(&config(), &p);
        let codes: Vec<_> = d.counties().iter().map(|c| c.code.as_str()).collect();
        assert_eq!(codes, ["ntpc", "tp", "kh"]);
        assert_eq!(d.problems.len(), 4, "{:?}", d.problems);
        assert!(d.problems.iter().any(|p| p.contains("must be https")));
        assert!(d.problems.iter().any(|p| p.contains("no client_id")));
        assert!(d
            .problems
            .iter()
            .any(|p| p.contains("unknown profile saml")));
    }

    #[test]
    fn allowed_counties_filter_and_say_why() {
        let p = policy(r#"{"AllowedCounties": ["tp", "kh"]}"#);
        let d = CountyDirectory::from_configuration(&config(), &p);
        let codes: Vec<_> = d.listings().into_iter().map(|c| c.code).collect();
        assert_eq!(codes, ["tp", "kh"]);
        assert_eq!(d.get("ntpc").unwrap_err().code(), "county.not_allowed");
    }

    #[test]
    fn profiles_parse_as_the_service_spells_them() {
        assert_eq!(parse_profile("sso_edu_tw"), Some(IdpProfile::SsoEduTw));
        assert_eq!(
            parse_profile("taipei_oauth2"),
            Some(IdpProfile::TaipeiOauth2)
        );
        assert_eq!(parse_profile("oidc"), Some(IdpProfile::Oidc));
        assert_eq!(parse_profile("OIDC"), None);
    }
}
