//! User settings resolved against policy: **policy beats user setting beats
//! default**. Each resolved value says whether policy fixed it, so the UI can
//! show the lock (由您的機構管理) and refuse changes.

use serde::Serialize;

use crate::policy::{EnvironmentKind, Language, Policy};
use crate::store::Store;
use crate::{CoreError, Result};

/// The service URL used for `production` when nothing overrides it.
pub const PRODUCTION_SERVICE_URL: &str = "https://cloud.edu.tw/";

/// The UI languages, as stored and as the UI names them.
pub const LANGUAGES: &[&str] = &["zh-TW", "en"];

/// Where a resolved value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Origin {
    Policy,
    Environment,
    User,
    Default,
}

/// A resolved setting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Resolved<T> {
    pub value: T,
    pub origin: Origin,
}

impl<T> Resolved<T> {
    pub fn locked(&self) -> bool {
        self.origin == Origin::Policy
    }
}

/// Which service the app talks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EnvironmentChoice {
    pub kind: EnvironmentKind,
    /// For production/custom: the service URL. For the sandbox it is known
    /// only once the embedded server listens.
    pub service_url: Option<String>,
}

fn resolve<T>(policy: Option<T>, user: Option<T>, default: T) -> Resolved<T> {
    match (policy, user) {
        (Some(value), _) => Resolved {
            value,
            origin: Origin::Policy,
        },
        (None, Some(value)) => Resolved {
            value,
            origin: Origin::User,
        },
        (None, None) => Resolved {
            value: default,
            origin: Origin::Default,
        },
    }
}

/// The UI language.
pub fn language(policy: &Policy, store: &Store) -> Result<Resolved<String>> {
    let user = store
        .setting("language")?
        .filter(|l| LANGUAGES.contains(&l.as_str()));
    let pol = policy.language.map(|l| l.as_str().to_string());
    Ok(resolve(pol, user, Language::ZhTw.as_str().to_string()))
}

/// Changes the UI language unless policy fixes it.
pub fn set_language(policy: &Policy, store: &Store, lang: &str) -> Result<()> {
    if policy.language.is_some() {
        return Err(CoreError::PolicyLocked("Language"));
    }
    let Some(lang) = Language::parse(lang) else {
        return Err(CoreError::invalid("language", "language.unsupported"));
    };
    store.set_setting("language", lang.as_str())
}

/// The county preselected in the drop-down.
pub fn default_county(policy: &Policy, store: &Store) -> Result<Resolved<Option<String>>> {
    let user = store.setting("default_county")?.map(Some);
    Ok(resolve(policy.default_county.clone().map(Some), user, None))
}

pub fn set_default_county(policy: &Policy, store: &Store, county: &str) -> Result<()> {
    if policy.default_county.is_some() {
        return Err(CoreError::PolicyLocked("DefaultCounty"));
    }
    store.set_setting("default_county", county)
}

/// Which Education Cloud to use. Policy first, then `EDUCLOUD_SERVICE_URL`
/// (a developer's or tester's custom service), then the user's earlier
/// choice, then the build's default: the embedded sandbox. An installed
/// release shows the environment plainly in the window (示範環境 badge).
pub fn environment(policy: &Policy, store: &Store) -> Result<Resolved<EnvironmentChoice>> {
    let from_policy = policy
        .environment
        .or(policy.service_url.as_ref().map(|_| EnvironmentKind::Custom))
        .map(|kind| EnvironmentChoice {
            kind,
            service_url: service_url_for(kind, policy.service_url.clone()),
        });
    if let Some(value) = from_policy {
        return Ok(Resolved {
            value,
            origin: Origin::Policy,
        });
    }
    if let Some(url) = std::env::var("EDUCLOUD_SERVICE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        return Ok(Resolved {
            value: EnvironmentChoice {
                kind: EnvironmentKind::Custom,
                service_url: Some(url),
            },
            origin: Origin::Environment,
        });
    }
    let user = match store.setting("environment")?.as_deref() {
        Some("production") => Some(EnvironmentChoice {
            kind: EnvironmentKind::Production,
            service_url: service_url_for(EnvironmentKind::Production, None),
        }),
        Some("custom") => store.setting("service_url")?.map(|u| EnvironmentChoice {
            kind: EnvironmentKind::Custom,
            service_url: Some(u),
        }),
        Some("sandbox") => Some(EnvironmentChoice {
            kind: EnvironmentKind::Sandbox,
            service_url: None,
        }),
        _ => None,
    };
    Ok(resolve(
        None,
        user,
        EnvironmentChoice {
            kind: EnvironmentKind::Sandbox,
            service_url: None,
        },
    ))
}

fn service_url_for(kind: EnvironmentKind, configured: Option<String>) -> Option<String> {
    match kind {
        EnvironmentKind::Sandbox => None,
        EnvironmentKind::Production => {
            Some(configured.unwrap_or_else(|| PRODUCTION_SERVICE_URL.to_string()))
        }
        EnvironmentKind::Custom => configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Policy {
        Policy::from_json(json).unwrap().0
    }

    #[test]
    fn language_precedence_policy_user_default() {
        let store = Store::in_memory().unwrap();
        let none = Policy::default();
        assert_eq!(language(&none, &store).unwrap().value, "zh-TW");
        set_language(&none, &store, "en").unwrap();
        let r = language(&none, &store).unwrap();
        assert_eq!((r.value.as_str(), r.origin), ("en", Origin::User));
        let fixed = policy(r#"{"Language":"zh-TW"}"#);
        let r = language(&fixed, &store).unwrap();
        assert_eq!((r.value.as_str(), r.locked()), ("zh-TW", true));
        assert_eq!(
            set_language(&fixed, &store, "en").unwrap_err().code(),
            "policy.locked"
        );
        assert_eq!(
            set_language(&none, &store, "fr").unwrap_err().code(),
            "language.unsupported"
        );
    }

    #[test]
    fn environment_defaults_to_the_sandbox_and_policy_wins() {
        let store = Store::in_memory().unwrap();
        let none = Policy::default();
        if std::env::var_os("EDUCLOUD_SERVICE_URL").is_none() {
            let r = environment(&none, &store).unwrap();
            assert_eq!(r.value.kind, EnvironmentKind::Sandbox);
            assert_eq!(r.origin, Origin::Default);
            store.set_setting("environment", "production").unwrap();
            let r = environment(&none, &store).unwrap();
            assert_eq!(r.value.service_url.as_deref(), Some(PRODUCTION_SERVICE_URL));
        }
        let p = policy(r#"{"ServiceUrl":"https://edu.example.tw/"}"#);
        let r = environment(&p, &store).unwrap();
        assert_eq!(r.value.kind, EnvironmentKind::Custom);
        assert!(r.locked());
    }

    #[test]
    fn default_county_lock() {
        let store = Store::in_memory().unwrap();
        let p = policy(r#"{"DefaultCounty":"tp"}"#);
        assert_eq!(
            default_county(&p, &store).unwrap().value.as_deref(),
            Some("tp")
        );
        assert!(set_default_county(&p, &store, "kh").is_err());
        set_default_county(&Policy::default(), &store, "kh").unwrap();
        assert_eq!(
            default_county(&Policy::default(), &store)
                .unwrap()
                .value
                .as_deref(),
            Some("kh")
        );
    }
}
