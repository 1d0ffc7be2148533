//! User settings resolved against policy: **policy beats user setting beats
//! default**. Each resolved value says whether policy fixed it, so the UI can
//! show the lock (由您的機構管理) and refuse changes.

use serde::Serialize;

use crate::desktop::Desktop;
use crate::error::code;
use crate::policy::{Build, EnvironmentKind, Language, LoadedPolicy, Policy};
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
/// where it applies ([`LoadedPolicy::developer`]: a developer's or tester's
/// custom service), then the user's choice, then the default: the embedded
/// demo (示範環境). A release build with no policy and no choice asks the
/// user first ([`needs_service_choice`]); the window shows the environment
/// plainly (示範環境 badge).
pub fn environment(loaded: &LoadedPolicy, store: &Store) -> Result<Resolved<EnvironmentChoice>> {
    let policy = loaded.policy();
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
    if let Some(url) = &loaded.developer().service_url {
        return Ok(Resolved {
            value: EnvironmentChoice {
                kind: EnvironmentKind::Custom,
                service_url: Some(url.clone()),
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

/// Whether the user must choose the service before anything else: a
/// release build with no policy, no developer service and no earlier
/// choice. Debug builds (and the test rig) start on the demo.
pub fn needs_service_choice(loaded: &LoadedPolicy, store: &Store) -> Result<bool> {
    Ok(loaded.build() == Build::Release && environment(loaded, store)?.origin == Origin::Default)
}

/// What [`choose_service`] saved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceChosen {
    pub choice: EnvironmentChoice,
    /// The process is already connected to another service: the choice
    /// applies at the next start (the UI says 重新啟動後生效).
    pub restart_needed: bool,
}

/// The user's choice of service (first run, 設定): the ministry's
/// (`production`), the organization's (`custom` with `url`) or the offline
/// demo (`sandbox`). Refused with `policy.locked` when policy fixes the
/// service. The organization's URL is checked before it is saved: a URL
/// (`service.url_invalid`), https (`service.url_not_https`; plain http only
/// to this computer), and it serves `.well-known/educloud-configuration`
/// (`service.not_educloud`; a network failure keeps its own code). Errors
/// about the URL carry the field `service_url`.
pub async fn choose_service(
    desktop: &Desktop,
    kind: EnvironmentKind,
    url: Option<&str>,
) -> Result<ServiceChosen> {
    let policy = desktop.policy();
    if let Some(key) = ["Environment", "ServiceUrl"]
        .into_iter()
        .find(|k| policy.is_set(k))
    {
        return Err(CoreError::PolicyLocked(key));
    }
    let choice = match kind {
        EnvironmentKind::Custom => {
            let url = check_service_url(policy, url.unwrap_or_default()).await?;
            EnvironmentChoice {
                kind,
                service_url: Some(url.to_string()),
            }
        }
        kind => EnvironmentChoice {
            kind,
            service_url: service_url_for(kind, None),
        },
    };
    if let Some(url) = &choice.service_url {
        if kind == EnvironmentKind::Custom {
            desktop.store.set_setting("service_url", url)?;
        }
    }
    desktop.store.set_setting("environment", kind.as_str())?;
    let restart_needed = desktop.service().is_some_and(|s| {
        s.kind != choice.kind
            || choice
                .service_url
                .as_deref()
                .is_some_and(|u| u != s.base_url.as_str())
    });
    tracing::info!(kind = kind.as_str(), restart_needed, "service chosen");
    Ok(ServiceChosen {
        choice,
        restart_needed,
    })
}

/// Checks an organization's service URL (see [`choose_service`]) and
/// returns it normalised (with a trailing `/`).
pub async fn check_service_url(policy: &Policy, text: &str) -> Result<url::Url> {
    let field_error = |code: &str| CoreError::invalid("service_url", code);
    let text = text.trim();
    let mut url = url::Url::parse(text)
        .ok()
        .filter(|u| u.has_host() && matches!(u.scheme(), "https" | "http"))
        .ok_or_else(|| field_error(code::SERVICE_URL_INVALID))?;
    if !crate::api::is_secure_url(&url) {
        return Err(field_error(code::SERVICE_URL_NOT_HTTPS));
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    let http = crate::net::http_client(policy)?;
    match crate::api::EduCloudClient::fetch_configuration(&http, &url).await {
        Ok(_) => Ok(url),
        Err(
            e @ (CoreError::BadResponse { .. }
            | CoreError::Service { .. }
            | CoreError::ResponseTooLarge { .. }),
        ) => {
            tracing::info!(error = %e, %url, "not an Education Cloud service");
            Err(field_error(code::SERVICE_NOT_EDUCLOUD))
        }
        Err(e) => Err(e),
    }
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
    use crate::policy::DeveloperVars;

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

    fn loaded(build: Build, json: &str, service_url: Option<&str>) -> LoadedPolicy {
        let vars = DeveloperVars {
            service_url: service_url.map(str::to_string),
            ..DeveloperVars::default()
        };
        let p = policy(json);
        LoadedPolicy::load_with(build, vars, |l| l.add("test".into(), p), None)
    }

    #[test]
    fn environment_defaults_to_the_sandbox_and_policy_wins() {
        let store = Store::in_memory().unwrap();
        let none = loaded(Build::Debug, "{}", None);
        let r = environment(&none, &store).unwrap();
        assert_eq!(r.value.kind, EnvironmentKind::Sandbox);
        assert_eq!(r.origin, Origin::Default);
        store.set_setting("environment", "production").unwrap();
        let r = environment(&none, &store).unwrap();
        assert_eq!(r.value.service_url.as_deref(), Some(PRODUCTION_SERVICE_URL));
        assert_eq!(r.origin, Origin::User);
        let p = loaded(
            Build::Debug,
            r#"{"ServiceUrl":"https://edu.example.tw/"}"#,
            None,
        );
        let r = environment(&p, &store).unwrap();
        assert_eq!(r.value.kind, EnvironmentKind::Custom);
        assert!(r.locked());
    }

    #[test]
    fn the_developer_service_applies_only_where_the_rules_allow() {
        let store = Store::in_memory().unwrap();
        let dev = "http://127.0.0.1:9/";
        let r = environment(&loaded(Build::Debug, "{}", Some(dev)), &store).unwrap();
        assert_eq!(
            (r.value.service_url.as_deref(), r.origin),
            (Some(dev), Origin::Environment)
        );
        // A release build without AllowDeveloperOverrides: the variable is
        // not the service.
        let r = environment(&loaded(Build::Release, "{}", Some(dev)), &store).unwrap();
        assert_eq!(
            (r.value.kind, r.origin),
            (EnvironmentKind::Sandbox, Origin::Default)
        );
        let allowed = r#"{"AllowDeveloperOverrides":true}"#;
        let r = environment(&loaded(Build::Release, allowed, Some(dev)), &store).unwrap();
        assert_eq!(r.origin, Origin::Environment);
        // Never over a policy's service.
        let fixed = r#"{"AllowDeveloperOverrides":true,"Environment":"production"}"#;
        let r = environment(&loaded(Build::Release, fixed, Some(dev)), &store).unwrap();
        assert_eq!(
            (r.value.kind, r.origin),
            (EnvironmentKind::Production, Origin::Policy)
        );
    }

    #[test]
    fn a_release_build_asks_once_and_a_debug_build_starts_on_the_demo() {
        let store = Store::in_memory().unwrap();
        assert!(!needs_service_choice(&loaded(Build::Debug, "{}", None), &store).unwrap());
        let release = loaded(Build::Release, "{}", None);
        assert!(needs_service_choice(&release, &store).unwrap());
        let managed = loaded(Build::Release, r#"{"Environment":"production"}"#, None);
        assert!(!needs_service_choice(&managed, &store).unwrap());
        store.set_setting("environment", "sandbox").unwrap();
        assert!(!needs_service_choice(&release, &store).unwrap());
    }

    fn desktop(dir: &tempfile::TempDir, loaded: LoadedPolicy) -> Desktop {
        Desktop::open(crate::paths::AppPaths::under(dir.path()), loaded).unwrap()
    }

    #[tokio::test]
    async fn choosing_the_service_checks_the_url_then_saves_it() {
        let sandbox = educloud_sandbox::start(educloud_sandbox::SandboxConfig::default())
            .await
            .unwrap();
        let base = sandbox.base_url().to_string();
        let dir = tempfile::tempdir().unwrap();
        let d = desktop(&dir, loaded(Build::Release, "{}", None));
        assert!(d.needs_service_choice().unwrap());
        let custom = EnvironmentKind::Custom;
        let refused = |r: Result<ServiceChosen>| {
            let e = r.unwrap_err();
            (e.code().to_string(), e.field().map(str::to_string))
        };
        let field = Some("service_url".to_string());
        assert_eq!(
            refused(choose_service(&d, custom, Some("not a url")).await),
            ("service.url_invalid".into(), field.clone())
        );
        assert_eq!(
            refused(choose_service(&d, custom, None).await),
            ("service.url_invalid".into(), field.clone())
        );
        assert_eq!(
            refused(choose_service(&d, custom, Some("http://educloud.example.tw/")).await),
            ("service.url_not_https".into(), field.clone())
        );
        // Reachable, but not an Education Cloud.
        let elsewhere = format!("{base}no-service-here/");
        assert_eq!(
            refused(choose_service(&d, custom, Some(&elsewhere)).await),
            ("service.not_educloud".into(), field.clone())
        );
        // Nothing listens: the network's own code.
        assert_eq!(
            refused(choose_service(&d, custom, Some("http://127.0.0.1:9")).await).0,
            "network.unreachable"
        );
        assert!(d.needs_service_choice().unwrap(), "nothing saved yet");
        let without_slash = base.trim_end_matches('/');
        let chosen = choose_service(&d, custom, Some(without_slash))
            .await
            .unwrap();
        assert_eq!(chosen.choice.service_url.as_deref(), Some(base.as_str()));
        assert!(!chosen.restart_needed);
        let r = d.environment().unwrap();
        assert_eq!(
            (r.value.service_url.as_deref(), r.origin),
            (Some(base.as_str()), Origin::User)
        );
        assert!(!d.needs_service_choice().unwrap());
        // Once connected, another choice applies at the next start.
        d.set_service(crate::desktop::ServiceEndpoint {
            kind: custom,
            base_url: url::Url::parse(&base).unwrap(),
        });
        let again = choose_service(&d, EnvironmentKind::Production, None)
            .await
            .unwrap();
        assert!(again.restart_needed);
        assert_eq!(
            d.environment().unwrap().value.service_url.as_deref(),
            Some(PRODUCTION_SERVICE_URL)
        );
    }

    #[tokio::test]
    async fn a_policy_service_cannot_be_changed_and_nothing_waits_for_an_unchosen_one() {
        let dir = tempfile::tempdir().unwrap();
        let d = desktop(
            &dir,
            loaded(
                Build::Release,
                r#"{"ServiceUrl":"https://edu.example.tw/"}"#,
                None,
            ),
        );
        let e = choose_service(&d, EnvironmentKind::Sandbox, None)
            .await
            .unwrap_err();
        assert_eq!(e.code(), "policy.locked");
        let dir = tempfile::tempdir().unwrap();
        let d = desktop(&dir, loaded(Build::Release, "{}", None));
        let started = std::time::Instant::now();
        let e = d.wait_service().await.unwrap_err();
        assert_eq!(e.code(), "service.not_chosen");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
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
